//! `Heartbeat`: a user lives while its heartbeat stream is open.

use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chat_proto::lobby::heartbeat_server::Heartbeat;
use chat_proto::lobby::user_lives_reply::Status as Liveness;
use chat_proto::lobby::{HeartbeatReply, HeartbeatRequest, UserLivesReply, UserRequest};
use futures::Stream;
use tokio::time::MissedTickBehavior;
use tonic::{Request, Response, Status};

use super::hub::LobbyHub;
use super::peer_address;
use crate::status;

pub struct HeartbeatService {
    hub: LobbyHub,
    interval: Duration,
}

impl HeartbeatService {
    pub fn new(hub: LobbyHub, interval: Duration) -> Self {
        HeartbeatService { hub, interval }
    }
}

type HeartbeatStream = Pin<Box<dyn Stream<Item = Result<HeartbeatReply, Status>> + Send>>;

#[tonic::async_trait]
impl Heartbeat for HeartbeatService {
    type TryHeartbeatStream = HeartbeatStream;

    /// Sends the server time at once and then every interval, until the
    /// client hangs up (which removes the user) or the user is removed.
    async fn try_heartbeat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatStream>, Status> {
        let from = peer_address(&request)?;
        let index = request.into_inner().index;
        let gone = self.hub.user(index, from).map_err(status::from_hub)?;
        let guard = self.hub.heartbeat_opened(index).map_err(status::from_hub)?;
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let beats = futures::stream::unfold((guard, ticker), move |(guard, mut ticker)| {
            let gone = gone.clone();
            async move {
                tokio::select! {
                    biased;
                    () = gone.cancelled() => None,
                    _ = ticker.tick() => Some((Ok(HeartbeatReply { time: unix_seconds() }), (guard, ticker))),
                }
            }
        });
        Ok(Response::new(Box::pin(beats)))
    }

    async fn try_user_lives(
        &self,
        request: Request<UserRequest>,
    ) -> Result<Response<UserLivesReply>, Status> {
        // Another address's user is none of the caller's business.
        let from = peer_address(&request)?;
        let status = if self.hub.user(request.into_inner().index, from).is_ok() {
            Liveness::Live
        } else {
            Liveness::Unknown
        };
        Ok(Response::new(UserLivesReply {
            status: status.into(),
        }))
    }
}

fn unix_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
