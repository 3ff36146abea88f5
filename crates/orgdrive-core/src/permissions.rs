//! AddPermission, UpdatePermission, DeletePermission, ListPermissions and
//! BatchQueryRoles: grants of roles on a space's root or dentries.
//!
//! The seed's rule: a USER space's dentries take only permanent grants, an
//! APP space's only temporary ones (`option.duration`, 1 to
//! [`MAX_GRANT_SECS`] seconds), each refused otherwise with
//! `paramError.duration`. Granting needs the `GrantRole` operation's role
//! (`MANAGER`), and `OWNER` grants (adding, changing or removing one) the
//! `GrantOwner` operation's (`OWNER`). In an APP space the owning app acts
//! as `OWNER` for every operator, so its operators need no role of their
//! own to grant; another app's operators do.
//!
//! Members are `USER` (a unionId, or a userId stored as the user's
//! unionId), `DEPT` (a department; reaches its sub-departments' members)
//! and `ORG` (the space's org). `corpId`, when given, must be the space's
//! org; `DEPT` members must give it. The other member types of the
//! reference (`TAG`, `CONVERSATION`, `GG`, `ALL_USERS`) have no directory
//! here and are refused with `paramError.members.type`.

use orgdrive_store::{
    GrantCursor, GrantRecord, GrantWrite, RevokeGrants, SpaceRecord, StoreError, WriteGrants,
};

use crate::dentries::MAX_BATCH_IDS;
use crate::error::unknown_dentry;
use crate::ids::ROOT_ID;
use crate::policy::{Operation, Place, Role};
use crate::{now_ms, Drive, DriveError, DriveResult, Operator};

/// Most members of one Add/Update/DeletePermission call.
pub const MAX_GRANT_MEMBERS: usize = 30;
/// Longest temporary grant, in seconds.
pub const MAX_GRANT_SECS: i64 = 3600;
/// Largest ListPermissions page.
pub const MAX_GRANT_PAGE: i64 = 500;
/// ListPermissions' page size when none is asked for.
pub const DEFAULT_GRANT_PAGE: i64 = 50;
/// Most roles in ListPermissions' `filterRoleIds`.
pub const MAX_ROLE_FILTER: usize = 30;

/// A grantee as the request names it.
#[derive(Debug, Clone, Default)]
pub struct MemberInput {
    pub member_type: Option<String>,
    pub id: Option<String>,
    pub corp_id: Option<String>,
}

/// The body of Add/UpdatePermission (and DeletePermission, without duration).
#[derive(Debug, Clone, Default)]
pub struct GrantInput {
    pub members: Vec<MemberInput>,
    pub role_id: Option<String>,
    pub duration: Option<i64>,
}

/// One page of ListPermissions.
#[derive(Debug, Clone)]
pub struct GrantPage {
    pub grants: Vec<GrantRecord>,
    pub next_token: Option<String>,
}

/// A member, checked against the space's org: `(type, id)`.
type Member = (String, String);

impl Drive {
    /// AddPermission: grants the role to every member (a member's earlier
    /// grant on the dentry is replaced).
    pub async fn add_permission(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        input: GrantInput,
    ) -> DriveResult<()> {
        self.write_grants(op, space_id, dentry_id, input, GrantWrite::Add).await
    }

    /// UpdatePermission: changes the role (and duration) of grants the
    /// members hold on the dentry; `paramError.members` if one holds none.
    pub async fn update_permission(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        input: GrantInput,
    ) -> DriveResult<()> {
        self.write_grants(op, space_id, dentry_id, input, GrantWrite::Update).await
    }

    async fn write_grants(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        input: GrantInput,
        mode: GrantWrite,
    ) -> DriveResult<()> {
        let role = parse_role(input.role_id.as_deref())?;
        let space = self.space_for(op, space_id).await?;
        let duration = grant_duration(&space, input.duration)?;
        let members = self.members(&space, &input.members).await?;
        let operation =
            if role == Role::Owner { Operation::GrantOwner } else { Operation::GrantRole };
        let held = self.authorize_live(op, &space, dentry_id, operation).await?;
        let now = now_ms();
        let grants = members
            .into_iter()
            .map(|(member_type, member_id)| GrantRecord {
                space_id: space.space_id.clone(),
                dentry_id: dentry_id.to_string(),
                member_type,
                member_id,
                member_corp_id: space.corp_id.clone(),
                role: role.as_str().to_string(),
                duration_secs: duration,
                expires_at: duration.map(|secs| now + secs * 1000),
                operator_id: op.user.union_id.clone(),
                created_at: now,
                modified_at: now,
            })
            .collect();
        let write = WriteGrants {
            space_id: space.space_id.clone(),
            dentry_id: dentry_id.into(),
            mode,
            grants,
            // Replacing someone's OWNER grant (Add replaces a member's grant
            // too) needs what granting OWNER needs: the store refuses it in
            // the write's transaction unless the grantor may.
            protect_owner_grants: !held.allows(Operation::GrantOwner.capability()),
        };
        let written = self.meta.write_grants(&write).await;
        self.cache.forget_grants(&space.space_id);
        written.map_err(|e| match (e, mode) {
            (StoreError::NotFound, GrantWrite::Update) => DriveError::param(
                "members",
                format!("a member holds no grant on {dentry_id} to update"),
            ),
            (StoreError::NotFound, GrantWrite::Add) => unknown_dentry("dentryId", dentry_id),
            (StoreError::OwnerGrantInTheWay, _) => DriveError::PermissionDenied(
                "a member holds an OWNER grant here, which only an OWNER may change".into(),
            ),
            (other, _) => other.into(),
        })
    }

    /// DeletePermission: the members' grants of `roleId` on the dentry go
    /// (members without one are ignored).
    pub async fn delete_permission(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        input: GrantInput,
    ) -> DriveResult<()> {
        let role = parse_role(input.role_id.as_deref())?;
        let space = self.space_for(op, space_id).await?;
        let members = self.members(&space, &input.members).await?;
        let operation =
            if role == Role::Owner { Operation::GrantOwner } else { Operation::GrantRole };
        self.authorize_live(op, &space, dentry_id, operation).await?;
        let revoke = RevokeGrants {
            space_id: space.space_id.clone(),
            dentry_id: dentry_id.to_string(),
            role: role.as_str().to_string(),
            members,
            operator_id: op.user.union_id.clone(),
            now_ms: now_ms(),
        };
        let revoked = self.meta.revoke_grants(&revoke).await;
        self.cache.forget_grants(&space.space_id);
        revoked?;
        Ok(())
    }

    /// ListPermissions: the live grants on the dentry itself (not those it
    /// inherits: BatchQueryRoles answers what an operator holds), by member
    /// type, then member id.
    pub async fn list_permissions(
        &self,
        op: &Operator,
        space_id: &str,
        dentry_id: &str,
        filter_role_ids: &[String],
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> DriveResult<GrantPage> {
        if filter_role_ids.len() > MAX_ROLE_FILTER {
            return Err(DriveError::param(
                "filterRoleIds",
                format!("filterRoleIds holds at most {MAX_ROLE_FILTER} roles"),
            ));
        }
        let roles = filter_role_ids
            .iter()
            .map(|r| {
                Role::parse(&r.to_ascii_uppercase()).map(|r| r.as_str().to_string()).ok_or_else(
                    || DriveError::param("filterRoleIds", format!("{r} is not a roleId")),
                )
            })
            .collect::<DriveResult<Vec<String>>>()?;
        let limit = match max_results {
            None => DEFAULT_GRANT_PAGE,
            Some(n) if n >= 1 => n.min(MAX_GRANT_PAGE),
            Some(_) => {
                return Err(DriveError::param("maxResults", "maxResults must be at least 1"))
            }
        } as usize;
        let after = next_token.filter(|t| !t.is_empty()).map(|t| decode_token(t, dentry_id));
        let after = after.transpose()?;
        let space = self.space_for(op, space_id).await?;
        self.authorize_live(op, &space, dentry_id, Operation::ListPermissions).await?;
        let mut grants = self
            .meta
            .list_grants(
                &space.space_id,
                dentry_id,
                &roles,
                after.as_ref(),
                limit as u32 + 1,
                now_ms(),
            )
            .await?;
        let next_token = if grants.len() > limit {
            grants.truncate(limit);
            grants.last().map(|g| encode_token(dentry_id, g))
        } else {
            None
        };
        Ok(GrantPage { grants, next_token })
    }

    /// BatchQueryRoles: the operator's effective role on each dentry, in
    /// request order; an id the operator has no role on, or that is not a
    /// live dentry of the space, answers no role.
    pub async fn batch_query_roles(
        &self,
        op: &Operator,
        space_id: &str,
        ids: Vec<String>,
    ) -> DriveResult<Vec<(String, Option<Role>)>> {
        if ids.is_empty() || ids.len() > MAX_BATCH_IDS {
            return Err(DriveError::param(
                "dentryIdList",
                format!("dentryIdList must hold 1 to {MAX_BATCH_IDS} ids"),
            ));
        }
        let space = self.space_for(op, space_id).await?;
        let found = self.meta.get_dentries(&space.space_id, &ids).await?;
        let mut roles = Vec::with_capacity(ids.len());
        for id in ids {
            let role = if id == ROOT_ID {
                self.effective_role(op, &space, Place::Root).await?
            } else {
                match found.iter().find(|d| d.dentry_id == id && d.status == "NORMAL") {
                    Some(dentry) => self.effective_role(op, &space, Place::Dentry(dentry)).await?,
                    None => None,
                }
            };
            roles.push((id, role));
        }
        Ok(roles)
    }

    /// The operation's check on the dentry (`0` = the root), which must be
    /// live whoever asks (a binned dentry's grants are out of reach);
    /// answers the operator's role there.
    async fn authorize_live(
        &self,
        op: &Operator,
        space: &SpaceRecord,
        dentry_id: &str,
        operation: Operation,
    ) -> DriveResult<Role> {
        if dentry_id == ROOT_ID {
            self.authorize(op, space, Place::Root, operation).await
        } else {
            let dentry = self.live_dentry(&space.space_id, dentry_id, "dentryId").await?;
            self.authorize(op, space, Place::Dentry(&dentry), operation).await
        }
    }

    /// The members, checked against the space's org and directory.
    async fn members(
        &self,
        space: &SpaceRecord,
        members: &[MemberInput],
    ) -> DriveResult<Vec<Member>> {
        if members.is_empty() || members.len() > MAX_GRANT_MEMBERS {
            return Err(DriveError::param(
                "members",
                format!("members must hold 1 to {MAX_GRANT_MEMBERS} members"),
            ));
        }
        let mut checked: Vec<Member> = Vec::with_capacity(members.len());
        let mut depts: Option<Vec<String>> = None;
        for member in members {
            let kind = member.member_type.as_deref().unwrap_or_default().to_ascii_uppercase();
            let id = member.id.as_deref().filter(|id| !id.is_empty());
            let id = id.ok_or_else(|| DriveError::param("members.id", "members.id is required"))?;
            match member.corp_id.as_deref().filter(|c| !c.is_empty()) {
                Some(corp) if corp != space.corp_id => {
                    return Err(DriveError::param(
                        "members.corpId",
                        "members.corpId must be the space's organization",
                    ))
                }
                None if kind == "DEPT" => {
                    return Err(DriveError::param(
                        "members.corpId",
                        "members.corpId is required for a DEPT member",
                    ))
                }
                _ => {}
            }
            let unknown = || {
                DriveError::param("members.id", format!("{kind} {id} is not in the organization"))
            };
            let id = match kind.as_str() {
                "USER" => self.user_union_id(&space.corp_id, id).await?.ok_or_else(unknown)?,
                "DEPT" => {
                    if depts.is_none() {
                        let listed = self.meta.list_depts(&space.corp_id).await?;
                        depts = Some(listed.into_iter().map(|d| d.dept_id).collect());
                    }
                    let known = depts.iter().flatten().any(|d| d == id);
                    if known {
                        id.to_string()
                    } else {
                        return Err(unknown());
                    }
                }
                "ORG" if id == space.corp_id => id.to_string(),
                "ORG" => return Err(unknown()),
                "TAG" | "CONVERSATION" | "GG" | "ALL_USERS" => {
                    return Err(DriveError::param(
                        "members.type",
                        format!("members of type {kind} are not supported; use USER, DEPT or ORG"),
                    ))
                }
                _ => {
                    return Err(DriveError::param(
                        "members.type",
                        "members.type must be USER, DEPT or ORG",
                    ))
                }
            };
            let member = (kind, id);
            if !checked.contains(&member) {
                checked.push(member);
            }
        }
        Ok(checked)
    }

    /// The unionId of the org's user named by unionId or userId.
    async fn user_union_id(&self, corp_id: &str, id: &str) -> DriveResult<Option<String>> {
        if let Some(user) = self.meta.get_user(corp_id, id).await? {
            return Ok(Some(user.union_id));
        }
        let users = self.meta.list_users(corp_id).await?;
        Ok(users.into_iter().find(|u| u.user_id == id).map(|u| u.union_id))
    }
}

fn parse_role(role_id: Option<&str>) -> DriveResult<Role> {
    let role_id = role_id.unwrap_or_default();
    Role::parse(&role_id.to_ascii_uppercase()).ok_or_else(|| {
        DriveError::param(
            "roleId",
            "roleId must be OWNER, MANAGER, EDITOR, DOWNLOADER or READER".to_string(),
        )
    })
}

/// The seed's rule: permanent grants in USER spaces, temporary ones (1 to
/// [`MAX_GRANT_SECS`] seconds) in APP spaces.
fn grant_duration(space: &SpaceRecord, duration: Option<i64>) -> DriveResult<Option<i64>> {
    match (space.owner_type.as_str(), duration) {
        ("APP", Some(secs)) if (1..=MAX_GRANT_SECS).contains(&secs) => Ok(Some(secs)),
        ("APP", _) => Err(DriveError::param(
            "duration",
            format!(
                "an APP space takes only temporary grants: option.duration from 1 to \
                 {MAX_GRANT_SECS} seconds"
            ),
        )),
        (_, None) => Ok(None),
        (_, Some(_)) => Err(DriveError::param(
            "duration",
            "a USER space takes only permanent grants: leave option.duration out",
        )),
    }
}

/// `nextToken`: hex of `dentryId \n memberType \n memberId`, bound to its dentry.
fn encode_token(dentry_id: &str, last: &GrantRecord) -> String {
    hex::encode(format!("{dentry_id}\n{}\n{}", last.member_type, last.member_id))
}

fn decode_token(token: &str, dentry_id: &str) -> DriveResult<GrantCursor> {
    let invalid = || DriveError::param("nextToken", "nextToken is not from this listing");
    let text = crate::dentries::token_text(token).ok_or_else(invalid)?;
    let mut parts = text.splitn(3, '\n');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(d), Some(t), Some(id)) if d == dentry_id => {
            Ok(GrantCursor { member_type: t.to_string(), member_id: id.to_string() })
        }
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(owner_type: &str) -> SpaceRecord {
        SpaceRecord {
            space_id: "1".into(),
            corp_id: "c".into(),
            app_id: "a".into(),
            scene: "s".into(),
            scene_id: "i".into(),
            name: None,
            owner_type: owner_type.into(),
            owner_id: "o".into(),
            creator_id: "o".into(),
            modifier_id: "o".into(),
            quota: None,
            used_bytes: 0,
            status: "NORMAL".into(),
            can_search: true,
            can_rename: true,
            can_record_recent_file: true,
            created_at: 0,
            modified_at: 0,
        }
    }

    #[test]
    fn the_seed_rule_on_durations() {
        let (user, app) = (space("USER"), space("APP"));
        assert_eq!(grant_duration(&user, None).unwrap(), None);
        assert!(grant_duration(&user, Some(60)).is_err());
        assert_eq!(grant_duration(&app, Some(60)).unwrap(), Some(60));
        assert_eq!(grant_duration(&app, Some(MAX_GRANT_SECS)).unwrap(), Some(MAX_GRANT_SECS));
        for bad in [None, Some(0), Some(-1), Some(MAX_GRANT_SECS + 1)] {
            assert!(grant_duration(&app, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tokens_are_bound_to_their_dentry() {
        let grant = GrantRecord {
            space_id: "1".into(),
            dentry_id: "d".into(),
            member_type: "USER".into(),
            member_id: "u\nx".into(),
            member_corp_id: "c".into(),
            role: "READER".into(),
            duration_secs: None,
            expires_at: None,
            operator_id: "o".into(),
            created_at: 0,
            modified_at: 0,
        };
        let token = encode_token("d", &grant);
        let cursor = decode_token(&token, "d").unwrap();
        assert_eq!((cursor.member_type.as_str(), cursor.member_id.as_str()), ("USER", "u\nx"));
        assert!(decode_token(&token, "e").is_err());
        let forged = GrantRecord { member_id: "u\0x".into(), ..grant.clone() };
        assert!(decode_token(&encode_token("d", &forged), "d").is_err());
    }
}
