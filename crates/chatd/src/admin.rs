//! `chat.admin.v1.AdminService`, for `chatctl`: accounts, sessions and who
//! is online. Served only on a Unix socket that only chatd's user may open
//! (mode 0600); never on a TCP port.

use std::io;
use std::path::{Path, PathBuf};

use chat_engine::Account as StoredAccount;
use chat_proto::admin::v1::admin_service_server::{AdminService, AdminServiceServer};
use chat_proto::admin::v1::*;
use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic::{Request, Response, Status};

use crate::sessions::Sessions;
use crate::sessions::names::check_user_name;

pub struct Admin {
    sessions: Sessions,
}

impl Admin {
    fn account(&self, name: &str) -> Result<StoredAccount, Status> {
        self.sessions
            .accounts()
            .find(name)
            .ok_or_else(|| Status::not_found(format!("there is no account `{name}`")))
    }

    /// Ends `account`'s sessions, in the store and in memory.
    async fn end_sessions(&self, account: &str) -> Result<u32, Status> {
        let ended = self
            .sessions
            .accounts()
            .revoke_sessions(account, "", None)
            .await?;
        self.sessions.end_revoked_sessions(account);
        Ok(u32::try_from(ended).unwrap_or(u32::MAX))
    }

    fn wire(&self, account: StoredAccount) -> Account {
        let online = self.sessions.is_online(&account.name);
        let sessions = self.sessions.accounts().sessions(Some(&account.name)).len();
        Account {
            name: account.name,
            created_at: account.created_at,
            locked: account.locked,
            online,
            sessions: u32::try_from(sessions).unwrap_or(u32::MAX),
        }
    }
}

#[tonic::async_trait]
impl AdminService for Admin {
    async fn list_accounts(
        &self,
        _: Request<ListAccountsRequest>,
    ) -> Result<Response<ListAccountsResponse>, Status> {
        let accounts = self.sessions.accounts().list();
        Ok(Response::new(ListAccountsResponse {
            accounts: accounts.into_iter().map(|a| self.wire(a)).collect(),
        }))
    }

    async fn create_account(
        &self,
        request: Request<CreateAccountRequest>,
    ) -> Result<Response<CreateAccountResponse>, Status> {
        let CreateAccountRequest { name, password } = request.into_inner();
        check_user_name(&name)?;
        let account = self
            .sessions
            .accounts()
            .register(&name, &password, None)
            .await?;
        Ok(Response::new(CreateAccountResponse {
            account: Some(self.wire(account)),
        }))
    }

    async fn reset_password(
        &self,
        request: Request<ResetPasswordRequest>,
    ) -> Result<Response<ResetPasswordResponse>, Status> {
        let ResetPasswordRequest { name, password } = request.into_inner();
        let account = self.account(&name)?;
        self.sessions
            .accounts()
            .set_password(&account.name, &password)
            .await?;
        let sessions_ended = self.end_sessions(&account.name).await?;
        tracing::info!(name = account.name, "password reset by the operator");
        Ok(Response::new(ResetPasswordResponse { sessions_ended }))
    }

    async fn set_locked(
        &self,
        request: Request<SetLockedRequest>,
    ) -> Result<Response<SetLockedResponse>, Status> {
        let SetLockedRequest { name, locked } = request.into_inner();
        let account = self.account(&name)?;
        self.sessions
            .accounts()
            .set_locked(&account.name, locked)
            .await?;
        let sessions_ended = if locked {
            self.end_sessions(&account.name).await?
        } else {
            0
        };
        tracing::info!(
            name = account.name,
            locked,
            "account lock set by the operator"
        );
        Ok(Response::new(SetLockedResponse { sessions_ended }))
    }

    async fn delete_account(
        &self,
        request: Request<DeleteAccountRequest>,
    ) -> Result<Response<DeleteAccountResponse>, Status> {
        let account = self.account(&request.into_inner().name)?;
        self.sessions.accounts().delete(&account.name).await?;
        self.sessions.remove_account_user(&account.name).await?;
        Ok(Response::new(DeleteAccountResponse {}))
    }

    async fn list_sessions(
        &self,
        request: Request<ListSessionsRequest>,
    ) -> Result<Response<ListSessionsResponse>, Status> {
        let account = request.into_inner().account;
        let account = match account.as_str() {
            "" => None,
            name => Some(self.account(name)?.name),
        };
        let sessions = self.sessions.accounts().sessions(account.as_deref());
        Ok(Response::new(ListSessionsResponse {
            sessions: sessions
                .into_iter()
                .map(|s| Session {
                    id: s.id,
                    account: s.account,
                    created_at: s.created_at,
                    last_used_at: s.last_used_at,
                })
                .collect(),
        }))
    }

    async fn revoke_sessions(
        &self,
        request: Request<RevokeSessionsRequest>,
    ) -> Result<Response<RevokeSessionsResponse>, Status> {
        let RevokeSessionsRequest { account, id } = request.into_inner();
        let account = self.account(&account)?;
        let ended = self
            .sessions
            .accounts()
            .revoke_sessions(&account.name, &id, None)
            .await?;
        self.sessions.end_revoked_sessions(&account.name);
        if ended == 0 && !id.is_empty() {
            return Err(Status::not_found(format!(
                "`{}` has no session whose id starts with `{id}`",
                account.name
            )));
        }
        Ok(Response::new(RevokeSessionsResponse {
            sessions_ended: u32::try_from(ended).unwrap_or(u32::MAX),
        }))
    }

    async fn list_online(
        &self,
        _: Request<ListOnlineRequest>,
    ) -> Result<Response<ListOnlineResponse>, Status> {
        Ok(Response::new(ListOnlineResponse {
            users: self
                .sessions
                .online_users()
                .into_iter()
                .map(|(name, registered)| OnlineUser { name, registered })
                .collect(),
        }))
    }
}

/// Binds the admin socket at `path`, readable and writable by chatd's
/// user only. A socket file left by a chatd that is gone is replaced; one
/// that a running chatd answers on is not.
pub async fn bind(path: &Path) -> io::Result<UnixListener> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};

    if tokio::net::UnixStream::connect(path).await.is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "another chatd serves the admin socket {}; stop it, or give --admin-socket",
                path.display()
            ),
        ));
    }
    if let Some(dir) = path.parent() {
        // The data directory's mode, when it is the one made here.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot make the admin socket {}: {error}", path.display()),
        )
    })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Serves the admin service on `listener` until `shutdown`, then removes
/// the socket file at `path`.
pub async fn serve(
    listener: UnixListener,
    path: PathBuf,
    sessions: Sessions,
    shutdown: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    tracing::info!(path = %path.display(), "admin socket listening");
    let served = Server::builder()
        .add_service(AdminServiceServer::new(Admin { sessions }))
        .serve_with_incoming_shutdown(
            UnixListenerStream::new(listener),
            shutdown.cancelled_owned(),
        )
        .await;
    let _ = std::fs::remove_file(&path);
    served
}
