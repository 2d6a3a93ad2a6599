//! Who may do what in a room: whether it is private, its owner and
//! moderators, and who is banned, muted or invited. The rules live here,
//! apart from the locking and storing around them, so each is one
//! function a reader can check against the permissions table in the
//! README.

use std::collections::{BTreeMap, BTreeSet};

use crate::names::name_key;
use crate::store::{Grant, RoomUpdate, SavedRoom};
use crate::{EngineError, Limits};

/// Longest room topic, in characters.
pub const MAX_TOPIC_CHARS: usize = 256;

/// Names a room may grant something to, at most (bans, invitations,
/// moderators and mutes together): a moderator cannot grow a room's record
/// without bound.
pub const MOST_GRANTS: usize = 10_000;

/// A member's standing in a room, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Member,
    Moderator,
    Owner,
}

/// Something an owner or moderator does to a room; each names its target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RoomAction {
    SetTopic(String),
    Invite(String),
    Kick(String),
    Ban(String),
    Unban(String),
    Mute(String),
    Unmute(String),
    Promote(String),
    Demote(String),
    TransferOwnership(String),
    /// Closes the room for good and removes its history.
    Delete,
}

impl RoomAction {
    /// The user acted on, if the action has one.
    pub fn target(&self) -> Option<&str> {
        match self {
            RoomAction::SetTopic(_) | RoomAction::Delete => None,
            RoomAction::Invite(name)
            | RoomAction::Kick(name)
            | RoomAction::Ban(name)
            | RoomAction::Unban(name)
            | RoomAction::Mute(name)
            | RoomAction::Unmute(name)
            | RoomAction::Promote(name)
            | RoomAction::Demote(name)
            | RoomAction::TransferOwnership(name) => Some(name),
        }
    }

    /// The same action on `target` (a name resolved to its proper form).
    pub(crate) fn with_target(&self, target: String) -> RoomAction {
        match self {
            RoomAction::SetTopic(topic) => RoomAction::SetTopic(topic.clone()),
            RoomAction::Delete => RoomAction::Delete,
            RoomAction::Invite(_) => RoomAction::Invite(target),
            RoomAction::Kick(_) => RoomAction::Kick(target),
            RoomAction::Ban(_) => RoomAction::Ban(target),
            RoomAction::Unban(_) => RoomAction::Unban(target),
            RoomAction::Mute(_) => RoomAction::Mute(target),
            RoomAction::Unmute(_) => RoomAction::Unmute(target),
            RoomAction::Promote(_) => RoomAction::Promote(target),
            RoomAction::Demote(_) => RoomAction::Demote(target),
            RoomAction::TransferOwnership(_) => RoomAction::TransferOwnership(target),
        }
    }

    /// The least role that may take this action.
    fn least_role(&self) -> Role {
        match self {
            RoomAction::Promote(_)
            | RoomAction::Demote(_)
            | RoomAction::TransferOwnership(_)
            | RoomAction::Delete => Role::Owner,
            _ => Role::Moderator,
        }
    }

    fn verb(&self) -> &'static str {
        match self {
            RoomAction::SetTopic(_) => "set the topic",
            RoomAction::Invite(_) => "invite",
            RoomAction::Kick(_) => "kick",
            RoomAction::Ban(_) => "ban",
            RoomAction::Unban(_) => "unban",
            RoomAction::Mute(_) => "mute",
            RoomAction::Unmute(_) => "unmute",
            RoomAction::Promote(_) => "make moderators",
            RoomAction::Demote(_) => "take moderator rights",
            RoomAction::TransferOwnership(_) => "hand the room over",
            RoomAction::Delete => "delete the room",
        }
    }
}

/// What is known about a user an action names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The name in its proper form (as registered, or as logged in).
    pub name: String,
    pub is_account: bool,
    pub is_member: bool,
}

/// A room's kind, topic, roles, bans, mutes and invitations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomAccess {
    pub private: bool,
    /// A direct conversation between two accounts (private, no owner).
    pub direct: bool,
    pub topic: String,
    /// The account that owns the room; `None` for the server's own rooms
    /// and direct conversations.
    pub owner: Option<String>,
    pub moderators: BTreeSet<String>,
    /// By [`name_key`], the name as muted: like a ban, a mute holds for
    /// every name that looks like it, whoever logs in under it.
    pub muted: BTreeMap<String, String>,
    /// By [`name_key`], the name as banned: a ban holds for every name
    /// that looks like it.
    pub banned: BTreeMap<String, String>,
    /// By [`name_key`], the name as invited.
    pub invited: BTreeMap<String, String>,
    /// A direct conversation's two accounts.
    pub participants: BTreeSet<String>,
}

impl RoomAccess {
    pub(crate) fn from_saved(saved: &SavedRoom) -> Self {
        let mut access = RoomAccess {
            private: saved.private,
            direct: saved.direct,
            topic: saved.topic.clone(),
            owner: saved.owner.clone(),
            ..RoomAccess::default()
        };
        for (grant, name) in &saved.grants {
            access.grant(*grant, name.clone());
        }
        access
    }

    fn grant_count(&self) -> usize {
        self.moderators.len() + self.muted.len() + self.banned.len() + self.invited.len()
    }

    pub(crate) fn grant(&mut self, grant: Grant, name: String) {
        match grant {
            Grant::Moderator => self.moderators.insert(name),
            Grant::Muted => self.muted.insert(name_key(&name), name).is_none(),
            Grant::Banned => self.banned.insert(name_key(&name), name).is_none(),
            Grant::Invited => self.invited.insert(name_key(&name), name).is_none(),
            Grant::Participant => self.participants.insert(name),
        };
    }

    /// Takes back `grant` from `name` (for bans and invitations, from any
    /// name that looks like it). Returns the name as it was stored, if it
    /// was.
    pub(crate) fn revoke(&mut self, grant: Grant, name: &str) -> Option<String> {
        match grant {
            Grant::Moderator => self.moderators.take(name),
            Grant::Muted => self.muted.remove(&name_key(name)),
            Grant::Banned => self.banned.remove(&name_key(name)),
            Grant::Invited => self.invited.remove(&name_key(name)),
            Grant::Participant => self.participants.take(name),
        }
    }

    pub fn role_of(&self, name: &str) -> Role {
        if self.owner.as_deref() == Some(name) {
            Role::Owner
        } else if self.moderators.contains(name) {
            Role::Moderator
        } else {
            Role::Member
        }
    }

    pub fn is_banned(&self, name: &str) -> bool {
        !self.banned.is_empty() && self.banned.contains_key(&name_key(name))
    }

    pub fn is_muted(&self, name: &str) -> bool {
        !self.muted.is_empty() && self.muted.contains_key(&name_key(name))
    }

    pub fn is_invited(&self, name: &str) -> bool {
        !self.invited.is_empty() && self.invited.contains_key(&name_key(name))
    }

    /// Whether `name` may join: not banned, and for a private room, its
    /// owner, a moderator, a participant or invited.
    pub fn may_join(&self, name: &str) -> bool {
        if self.is_banned(name) {
            return false;
        }
        !self.private
            || self.role_of(name) > Role::Member
            || self.participants.contains(name)
            || self.is_invited(name)
    }

    /// Whether `name` may learn that the room exists: any public room, or
    /// a private one it is in or may join.
    pub fn is_visible_to(&self, name: &str, is_member: bool) -> bool {
        !self.private || is_member || self.may_join(name)
    }

    /// Checks that `actor` may take `action` on `target` (resolved), as
    /// things stand; the change itself is [`apply`](Self::apply)'s.
    pub fn check(
        &self,
        room: &str,
        actor: &str,
        action: &RoomAction,
        target: Option<&Target>,
        limits: &Limits,
    ) -> Result<(), EngineError> {
        let refuse = |why: String| Err(EngineError::NotAllowed(why));
        let invalid = |why: String| Err(EngineError::InvalidChange(why));
        if self.direct {
            return refuse(format!(
                "a direct conversation has no owner or moderators: nobody may {} there",
                action.verb()
            ));
        }
        let role = self.role_of(actor);
        let needed = action.least_role();
        if role < needed {
            let who = match needed {
                Role::Owner => "only the room's owner",
                _ => "only the room's owner and moderators",
            };
            return refuse(format!("{who} may {} in `{room}`", action.verb()));
        }
        match action {
            RoomAction::SetTopic(topic) => return check_topic(topic, limits),
            RoomAction::Delete => return Ok(()),
            _ => {}
        }
        let Some(target) = target else {
            return Err(EngineError::NoSuchUser(
                action.target().unwrap_or_default().to_owned(),
            ));
        };
        let name = target.name.as_str();
        if name == actor {
            return invalid(format!("you cannot {} yourself", action.verb()));
        }
        // Nobody acts on a member of their own rank or above.
        if self.role_of(name) >= role {
            return refuse(format!(
                "`{name}` is {} of `{room}`; you cannot {} them",
                article(self.role_of(name)),
                action.verb()
            ));
        }
        let grows = matches!(
            action,
            RoomAction::Invite(_)
                | RoomAction::Ban(_)
                | RoomAction::Mute(_)
                | RoomAction::Promote(_)
        );
        if grows && self.grant_count() >= MOST_GRANTS {
            return Err(EngineError::TooManyGrants(MOST_GRANTS));
        }
        match action {
            RoomAction::SetTopic(_) | RoomAction::Delete => Ok(()),
            RoomAction::Invite(_) if self.is_banned(name) => invalid(format!(
                "`{name}` is banned from `{room}`; unban them first"
            )),
            RoomAction::Invite(_) if target.is_member => {
                invalid(format!("`{name}` is in `{room}` already"))
            }
            RoomAction::Invite(_) => Ok(()),
            // A mute outlives the muted's stay, so it is lifted from
            // outside the room too.
            RoomAction::Kick(_) | RoomAction::Mute(_) if !target.is_member => {
                invalid(format!("`{name}` is not in `{room}`"))
            }
            RoomAction::Kick(_) => Ok(()),
            RoomAction::Mute(_) if self.is_muted(name) => {
                invalid(format!("`{name}` is muted in `{room}` already"))
            }
            RoomAction::Unmute(_) if !self.is_muted(name) => {
                invalid(format!("`{name}` is not muted in `{room}`"))
            }
            RoomAction::Mute(_) | RoomAction::Unmute(_) => Ok(()),
            RoomAction::Ban(_) if self.is_banned(name) => {
                invalid(format!("`{name}` is banned from `{room}` already"))
            }
            RoomAction::Ban(_) => Ok(()),
            RoomAction::Unban(_) if !self.is_banned(name) => {
                invalid(format!("`{name}` is not banned from `{room}`"))
            }
            RoomAction::Unban(_) => Ok(()),
            RoomAction::Promote(_) | RoomAction::TransferOwnership(_) if !target.is_account => {
                invalid(format!(
                    "`{name}` is a guest; only accounts may moderate or own rooms"
                ))
            }
            RoomAction::Promote(_) | RoomAction::TransferOwnership(_) if !target.is_member => {
                invalid(format!("`{name}` is not in `{room}`"))
            }
            RoomAction::Promote(_) if self.moderators.contains(name) => {
                invalid(format!("`{name}` is a moderator of `{room}` already"))
            }
            RoomAction::Demote(_) if !self.moderators.contains(name) => {
                invalid(format!("`{name}` is not a moderator of `{room}`"))
            }
            RoomAction::Promote(_) | RoomAction::Demote(_) | RoomAction::TransferOwnership(_) => {
                Ok(())
            }
        }
    }

    /// The stored changes `actor` taking `action` (checked) makes.
    pub(crate) fn changes(&self, actor: &str, action: &RoomAction) -> Vec<AccessChange> {
        use AccessChange::{Grant as Add, Revoke};
        let revoke_if = |held: Option<String>, grant: Grant| held.map(|name| Revoke(grant, name));
        match action {
            RoomAction::SetTopic(topic) => vec![AccessChange::Topic(topic.clone())],
            RoomAction::Invite(name) => vec![Add(Grant::Invited, name.clone())],
            RoomAction::Kick(_) | RoomAction::Delete => Vec::new(),
            RoomAction::Ban(name) => {
                // A ban ends the rest: no invitation, no mute to remember.
                let mut changes = vec![Add(Grant::Banned, name.clone())];
                changes.extend(revoke_if(
                    self.invited.get(&name_key(name)).cloned(),
                    Grant::Invited,
                ));
                changes.extend(revoke_if(
                    self.muted.get(&name_key(name)).cloned(),
                    Grant::Muted,
                ));
                changes
            }
            RoomAction::Unban(name) => {
                vec![Revoke(Grant::Banned, self.banned[&name_key(name)].clone())]
            }
            RoomAction::Mute(name) => vec![Add(Grant::Muted, name.clone())],
            RoomAction::Unmute(name) => {
                vec![Revoke(Grant::Muted, self.muted[&name_key(name)].clone())]
            }
            RoomAction::Promote(name) => vec![Add(Grant::Moderator, name.clone())],
            RoomAction::Demote(name) => vec![Revoke(Grant::Moderator, name.clone())],
            // The old owner stays on as a moderator.
            RoomAction::TransferOwnership(name) => {
                let mut changes = vec![AccessChange::Owner(Some(name.clone()))];
                changes.extend(revoke_if(
                    self.moderators.get(name).cloned(),
                    Grant::Moderator,
                ));
                changes.extend(revoke_if(
                    self.muted.get(&name_key(name)).cloned(),
                    Grant::Muted,
                ));
                changes.push(Add(Grant::Moderator, actor.to_owned()));
                changes
            }
        }
    }

    pub(crate) fn apply(&mut self, change: AccessChange) {
        match change {
            AccessChange::Topic(topic) => self.topic = topic,
            AccessChange::Owner(owner) => self.owner = owner,
            AccessChange::Grant(grant, name) => self.grant(grant, name),
            AccessChange::Revoke(grant, name) => {
                self.revoke(grant, &name);
            }
        }
    }
}

/// One stored change to a room's access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AccessChange {
    Topic(String),
    Owner(Option<String>),
    Grant(Grant, String),
    Revoke(Grant, String),
}

impl AccessChange {
    /// The change as the store keeps it, for room `room`.
    pub(crate) fn stored(&self, room: &str) -> RoomUpdate {
        let room = room.to_owned();
        match self.clone() {
            AccessChange::Topic(topic) => RoomUpdate::SetTopic { room, topic },
            AccessChange::Owner(owner) => RoomUpdate::SetOwner { room, owner },
            AccessChange::Grant(grant, name) => RoomUpdate::Grant { room, grant, name },
            AccessChange::Revoke(grant, name) => RoomUpdate::Revoke { room, grant, name },
        }
    }
}

fn article(role: Role) -> &'static str {
    match role {
        Role::Owner => "the owner",
        Role::Moderator => "a moderator",
        Role::Member => "a member",
    }
}

/// A topic is up to [`MAX_TOPIC_CHARS`] characters of message text, or
/// empty to clear it.
pub fn check_topic(topic: &str, limits: &Limits) -> Result<(), EngineError> {
    let len = topic.chars().count();
    if len > MAX_TOPIC_CHARS {
        return Err(EngineError::TopicTooLong {
            len,
            max: MAX_TOPIC_CHARS,
        });
    }
    if topic.is_empty() {
        return Ok(());
    }
    limits.check_text(topic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> RoomAccess {
        let mut access = RoomAccess {
            owner: Some("olga".into()),
            ..RoomAccess::default()
        };
        access.grant(Grant::Moderator, "mo".into());
        access
    }

    fn member(name: &str) -> Target {
        Target {
            name: name.into(),
            is_account: true,
            is_member: true,
        }
    }

    fn check(access: &RoomAccess, actor: &str, action: RoomAction) -> Result<(), EngineError> {
        let target = action.target().map(member);
        access.check("r", actor, &action, target.as_ref(), &Limits::default())
    }

    #[test]
    fn each_action_is_allowed_to_its_role_and_refused_to_the_one_below() {
        let access = room();
        let moderated = [
            RoomAction::SetTopic("t".into()),
            RoomAction::Kick("mem".into()),
            RoomAction::Ban("mem".into()),
            RoomAction::Mute("mem".into()),
        ];
        for action in moderated {
            assert_eq!(check(&access, "mo", action.clone()), Ok(()), "{action:?}");
            assert!(
                matches!(
                    check(&access, "mem", action.clone()),
                    Err(EngineError::NotAllowed(_))
                ),
                "{action:?}"
            );
        }
        for action in [
            RoomAction::Promote("mem".into()),
            RoomAction::TransferOwnership("mem".into()),
        ] {
            assert_eq!(check(&access, "olga", action.clone()), Ok(()), "{action:?}");
            assert!(
                matches!(
                    check(&access, "mo", action.clone()),
                    Err(EngineError::NotAllowed(_))
                ),
                "{action:?}"
            );
        }
    }

    #[test]
    fn nobody_acts_on_their_own_rank_or_above() {
        let mut access = room();
        access.grant(Grant::Moderator, "mo2".into());
        assert!(check(&access, "mo", RoomAction::Kick("mo2".into())).is_err());
        assert!(check(&access, "mo", RoomAction::Ban("olga".into())).is_err());
        assert_eq!(
            check(&access, "olga", RoomAction::Kick("mo".into())),
            Ok(())
        );
    }

    #[test]
    fn bans_hold_for_names_that_look_alike_and_keep_out_of_private_rooms() {
        let mut access = room();
        access.private = true;
        access.grant(Grant::Invited, "bob".into());
        assert!(access.may_join("bob") && access.is_visible_to("bob", false));
        assert!(!access.may_join("eve") && !access.is_visible_to("eve", false));
        for change in access.changes("mo", &RoomAction::Ban("bob".into())) {
            access.apply(change);
        }
        assert!(access.is_banned("BOB"));
        assert!(!access.may_join("bob") && !access.is_visible_to("bob", false));
        assert!(!access.is_invited("bob"));
    }

    #[test]
    fn a_room_grants_so_many_names_and_takes_topics_so_long() {
        let mut access = room();
        for i in access.grant_count()..MOST_GRANTS {
            access.grant(Grant::Banned, format!("spammer-{i}"));
        }
        assert_eq!(
            check(&access, "mo", RoomAction::Ban("one-more".into())),
            Err(EngineError::TooManyGrants(MOST_GRANTS))
        );
        assert_eq!(check(&access, "mo", RoomAction::Kick("mem".into())), Ok(()));
        let long = "t".repeat(MAX_TOPIC_CHARS + 1);
        assert!(matches!(
            check(&access, "mo", RoomAction::SetTopic(long)),
            Err(EngineError::TopicTooLong { .. })
        ));
        let longest = "한".repeat(MAX_TOPIC_CHARS);
        assert_eq!(check(&access, "mo", RoomAction::SetTopic(longest)), Ok(()));
    }

    #[test]
    fn handing_over_a_room_keeps_the_old_owner_as_a_moderator() {
        let mut access = room();
        for change in access.changes("olga", &RoomAction::TransferOwnership("mo".into())) {
            access.apply(change);
        }
        assert_eq!(access.role_of("mo"), Role::Owner);
        assert_eq!(access.role_of("olga"), Role::Moderator);
    }
}
