//! Spaces and the byte counters above them.

use async_trait::async_trait;

use orgdrive_store::{SpaceRecord, SpaceStore, StoreError, StoreResult};

use crate::rows::*;
use crate::{exec, one, read, tx, PgStore};

#[async_trait]
impl SpaceStore for PgStore {
    /// The unique key on (corp, app, scene, sceneId) decides: the insert
    /// does nothing when a row holds the key (waiting for a racing insert
    /// of it to commit first), and the `SELECT`, a new statement, then sees
    /// that row.
    async fn insert_space_once(&self, space: &SpaceRecord) -> StoreResult<(SpaceRecord, bool)> {
        const INSERT: &str = concat!(
            "INSERT INTO spaces (",
            space_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18) ON CONFLICT (corp_id, app_id, scene, scene_id) DO NOTHING"
        );
        const SELECT: &str = concat!(
            "SELECT ",
            space_columns!(),
            " FROM spaces WHERE corp_id = $1 AND app_id = $2 AND scene = $3 AND scene_id = $4"
        );
        let s = space;
        tx!(self, |t| {
            let inserted = exec(
                &t,
                INSERT,
                &[
                    &s.space_id,
                    &s.corp_id,
                    &s.app_id,
                    &s.scene,
                    &s.scene_id,
                    &s.name,
                    &s.owner_type,
                    &s.owner_id,
                    &s.creator_id,
                    &s.modifier_id,
                    &s.quota,
                    &s.used_bytes,
                    &s.status,
                    &s.can_search,
                    &s.can_rename,
                    &s.can_record_recent_file,
                    &s.created_at,
                    &s.modified_at,
                ],
            )
            .await?
                == 1;
            let row = one(&t, SELECT, &[&s.corp_id, &s.app_id, &s.scene, &s.scene_id])
                .await?
                .ok_or_else(|| StoreError::Backend("the space vanished".into()))?;
            (space_from_row(&row)?, inserted)
        })
    }

    async fn get_space(&self, space_id: &str) -> StoreResult<Option<SpaceRecord>> {
        const SQL: &str = concat!("SELECT ", space_columns!(), " FROM spaces WHERE space_id = $1");
        read!(self, |c| one(&c, SQL, &[&space_id])
            .await?
            .as_ref()
            .map(space_from_row)
            .transpose()?)
    }

    async fn org_used_bytes(&self, corp_id: &str) -> StoreResult<i64> {
        read!(self, |c| {
            one(&c, "SELECT used_bytes FROM orgs WHERE corp_id = $1", &[&corp_id])
                .await?
                .map_or(Ok(0), |r| r.try_get(0))?
        })
    }

    async fn app_used_bytes(&self, app_id: &str) -> StoreResult<i64> {
        read!(self, |c| {
            one(
                &c,
                "SELECT COALESCE(SUM(used_bytes), 0)::BIGINT FROM spaces WHERE app_id = $1",
                &[&app_id],
            )
            .await?
            .map_or(Ok(0), |r| r.try_get(0))?
        })
    }
}
