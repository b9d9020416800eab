//! `RegistryStore` on SQL: registered models, versions, tags, stages and aliases.

use std::collections::HashMap;

use async_trait::async_trait;
use galley_core::StoreFailure;
use galley_registry::model::*;
use galley_registry::{RegistryError, RegistryStore};
use galley_tracking::model::{KeyValue, Page};
use galley_tracking::search::ast::{Comparator, Comparison, EntityKind};
use sqlx::any::AnyRow;

use crate::filter::{direction, predicate};
use crate::sql::{
    change_one, col, db_err, fetch_page, is_unique_violation, rows_in, sql, Sql, IN_LIST_CHUNK,
};
use crate::{Dialect, SqlStore};

type Result<T> = std::result::Result<T, RegistryError>;

const MODEL_COLUMNS: &str = "m.name, m.creation_timestamp, m.last_updated_timestamp, m.description";
const VERSION_COLUMNS: &str = "v.name, v.version, v.creation_timestamp, v.last_updated_timestamp, \
     v.user_id, v.current_stage, v.description, v.source, v.storage_location, v.run_id, v.run_link, v.model_id, v.signature";

fn model_not_found(name: &str) -> RegistryError {
    RegistryError::NotFound(format!("Registered Model with name={name} not found"))
}

fn version_not_found(name: &str, version: i64) -> RegistryError {
    RegistryError::NotFound(format!(
        "Model Version (name={name}, version={version}) not found"
    ))
}

fn model_from_row(row: &AnyRow) -> Result<RegisteredModel> {
    Ok(RegisteredModel {
        name: col(row, "name")?,
        creation_timestamp: col(row, "creation_timestamp")?,
        last_updated_timestamp: col(row, "last_updated_timestamp")?,
        description: col(row, "description")?,
        tags: Vec::new(),
        aliases: Vec::new(),
        latest_versions: Vec::new(),
    })
}

fn version_from_row(row: &AnyRow) -> Result<ModelVersion> {
    let stage: String = col(row, "current_stage")?;
    Ok(ModelVersion {
        name: col(row, "name")?,
        version: col(row, "version")?,
        creation_timestamp: col(row, "creation_timestamp")?,
        last_updated_timestamp: col(row, "last_updated_timestamp")?,
        user_id: col(row, "user_id")?,
        current_stage: Stage::parse(&stage).unwrap_or(Stage::None),
        description: col(row, "description")?,
        source: col(row, "source")?,
        storage_location: col(row, "storage_location")?,
        run_id: col(row, "run_id")?,
        run_link: col(row, "run_link")?,
        model_id: col(row, "model_id")?,
        tags: Vec::new(),
        aliases: Vec::new(),
        signature: col::<Option<String>>(row, "signature")?
            .map(|text| from_json(&text, "signature"))
            .transpose()?,
    })
}

/// Reads a JSON column this store wrote; a value it cannot read is corruption, not bad input.
fn from_json<T: serde::de::DeserializeOwned>(text: &str, column: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| {
        RegistryError::Store(StoreFailure::Internal(format!(
            "unreadable {column} column: {e}"
        )))
    })
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("registry values serialize to JSON")
}

fn unique_names<'a>(names: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut names: Vec<String> = names.cloned().collect();
    names.sort();
    names.dedup();
    names
}

/// Fills tags and aliases of a page of versions with two queries per chunk of model names.
async fn attach_version_details(store: &SqlStore, versions: &mut [ModelVersion]) -> Result<()> {
    let names = unique_names(versions.iter().map(|v| &v.name));
    let index: HashMap<(String, i64), usize> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| ((v.name.clone(), v.version), i))
        .collect();
    let slot = |row: &AnyRow| -> Result<Option<usize>> {
        let key = (col::<String>(row, "name")?, col::<i64>(row, "version")?);
        Ok(index.get(&key).copied())
    };
    for row in rows_in(
        store,
        "SELECT name, version, key, value FROM model_version_tags WHERE name IN ",
        " ORDER BY key",
        &names,
    )
    .await?
    {
        if let Some(i) = slot(&row)? {
            versions[i].tags.push(KeyValue::new(
                col::<String>(&row, "key")?,
                col::<String>(&row, "value")?,
            ));
        }
    }
    for row in rows_in(
        store,
        "SELECT name, version, alias FROM registered_model_aliases WHERE name IN ",
        " ORDER BY alias",
        &names,
    )
    .await?
    {
        if let Some(i) = slot(&row)? {
            versions[i].aliases.push(col(&row, "alias")?);
        }
    }
    Ok(())
}

/// Fills tags, aliases and latest versions per stage of a page of models.
async fn attach_model_details(store: &SqlStore, models: &mut [RegisteredModel]) -> Result<()> {
    let names = unique_names(models.iter().map(|m| &m.name));
    let index: HashMap<String, usize> = models
        .iter()
        .enumerate()
        .map(|(i, m)| (m.name.clone(), i))
        .collect();
    for row in rows_in(
        store,
        "SELECT name, key, value FROM registered_model_tags WHERE name IN ",
        " ORDER BY key",
        &names,
    )
    .await?
    {
        let model = &mut models[index[&col::<String>(&row, "name")?]];
        model.tags.push(KeyValue::new(
            col::<String>(&row, "key")?,
            col::<String>(&row, "value")?,
        ));
    }
    for row in rows_in(
        store,
        "SELECT name, alias, version FROM registered_model_aliases WHERE name IN ",
        " ORDER BY alias",
        &names,
    )
    .await?
    {
        let model = &mut models[index[&col::<String>(&row, "name")?]];
        model.aliases.push(Alias {
            alias: col(&row, "alias")?,
            version: col(&row, "version")?,
        });
    }
    let select = format!(
        "SELECT {VERSION_COLUMNS} FROM model_versions v JOIN (SELECT name, current_stage, MAX(version) AS version \
         FROM model_versions WHERE name IN "
    );
    let mut latest = Vec::new();
    for chunk in names.chunks(IN_LIST_CHUNK) {
        let mut query = Sql::built(store.dialect, select.as_str());
        query.push_list(chunk).push(
            " GROUP BY name, current_stage) l ON l.name = v.name AND l.version = v.version ORDER BY v.version",
        );
        for row in query
            .query()
            .fetch_all(&store.reader)
            .await
            .map_err(db_err)?
        {
            latest.push(version_from_row(&row)?);
        }
    }
    attach_version_details(store, &mut latest).await?;
    for version in latest {
        let i = index[&version.name];
        models[i].latest_versions.push(version);
    }
    Ok(())
}

async fn fetch_version(store: &SqlStore, name: &str, version: i64) -> Result<ModelVersion> {
    let row = sql!(
        format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions v WHERE v.name = $1 AND v.version = $2"
        ),
        name,
        version
    )
    .query()
    .fetch_optional(&store.reader)
    .await
    .map_err(db_err)?
    .ok_or_else(|| version_not_found(name, version))?;
    let mut versions = [version_from_row(&row)?];
    attach_version_details(store, &mut versions).await?;
    let [version] = versions;
    Ok(version)
}

fn upsert_model_tag(name: &str, tag: &KeyValue) -> Sql {
    sql!(
        "INSERT INTO registered_model_tags (name, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
        name,
        &tag.key,
        &tag.value
    )
}

fn upsert_version_tag(name: &str, version: i64, tag: &KeyValue) -> Sql {
    sql!(
        "INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
        name,
        version,
        &tag.key,
        &tag.value
    )
}

/// A tag comparison over `tags` (a table aliased `t`, joined to the outer row). `!=` matches
/// rows that lack the tag too: the MLflow client appends ``tag.`mlflow.prompt.is_prompt` !=
/// 'true'`` to every model search and expects untagged models back.
fn tag_condition(sql: &mut Sql, dialect: Dialect, tags: &str, c: &Comparison) -> Result<String> {
    let key = sql.arg(&c.key);
    if c.comparator == Comparator::NotEq {
        let equal = Comparison {
            comparator: Comparator::Eq,
            ..c.clone()
        };
        let test = predicate(sql, dialect, "t.value", &equal)?;
        return Ok(format!(
            "NOT EXISTS (SELECT 1 FROM {tags} AND t.key = {key} AND {test})"
        ));
    }
    let test = predicate(sql, dialect, "t.value", c)?;
    Ok(format!(
        "EXISTS (SELECT 1 FROM {tags} AND t.key = {key} AND {test})"
    ))
}

fn model_condition(sql: &mut Sql, dialect: Dialect, c: &Comparison) -> Result<String> {
    Ok(match c.kind {
        EntityKind::Tag => tag_condition(
            sql,
            dialect,
            "registered_model_tags t WHERE t.name = m.name",
            c,
        )?,
        _ => predicate(sql, dialect, "m.name", c)?,
    })
}

fn version_column(key: &str) -> Result<&'static str> {
    Ok(match key {
        "name" => "v.name",
        "run_id" => "v.run_id",
        "source_path" => "v.source",
        "version_number" | "version" => "v.version",
        "creation_timestamp" => "v.creation_timestamp",
        "last_updated_timestamp" => "v.last_updated_timestamp",
        other => {
            return Err(RegistryError::InvalidParameter(format!(
                "Invalid model version key '{other}'"
            )))
        }
    })
}

fn version_condition(sql: &mut Sql, dialect: Dialect, c: &Comparison) -> Result<String> {
    Ok(match c.kind {
        EntityKind::Tag => tag_condition(
            sql,
            dialect,
            "model_version_tags t WHERE t.name = v.name AND t.version = v.version",
            c,
        )?,
        _ => predicate(sql, dialect, version_column(&c.key)?, c)?,
    })
}

#[async_trait]
impl RegistryStore for SqlStore {
    async fn create_registered_model(
        &self,
        name: &str,
        description: &str,
        tags: &[KeyValue],
        now: i64,
    ) -> Result<RegisteredModel> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let inserted = sql!(
            "INSERT INTO registered_models (name, creation_timestamp, last_updated_timestamp, description, last_version) \
             VALUES ($1, $2, $2, $3, 0)",
            name,
            now,
            description
        )
        .query()
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(RegistryError::AlreadyExists(format!(
                    "Registered Model (name={name}) already exists."
                )))
            }
            Err(e) => return Err(db_err(e).into()),
        }
        for tag in tags {
            upsert_model_tag(name, tag).execute(&mut *tx).await?;
        }
        tx.commit().await.map_err(db_err)?;
        self.get_registered_model(name).await
    }

    async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        let row = sql!(
            format!("SELECT {MODEL_COLUMNS} FROM registered_models m WHERE m.name = $1"),
            name
        )
        .query()
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?
        .ok_or_else(|| model_not_found(name))?;
        let mut models = [model_from_row(&row)?];
        attach_model_details(self, &mut models).await?;
        let [model] = models;
        Ok(model)
    }

    async fn search_registered_models(
        &self,
        search: &RegistrySearch,
    ) -> Result<Page<RegisteredModel>> {
        let mut sql = Sql::built(self.dialect, "");
        let mut conditions = vec!["1 = 1".to_string()];
        for c in &search.filter {
            conditions.push(model_condition(&mut sql, self.dialect, c)?);
        }
        let mut order: Vec<String> = search
            .order_by
            .iter()
            .map(|o| format!("m.{} {}", o.key, direction(o.ascending)))
            .collect();
        order.push("m.name ASC".into());
        let select = format!("SELECT {MODEL_COLUMNS} FROM registered_models m");
        let (mut items, next_offset) = fetch_page(
            self,
            sql,
            &select,
            &conditions,
            &order,
            (search.max_results, search.offset),
            model_from_row,
        )
        .await?;
        attach_model_details(self, &mut items).await?;
        Ok(Page { items, next_offset })
    }

    async fn update_registered_model(
        &self,
        name: &str,
        description: &str,
        now: i64,
    ) -> Result<RegisteredModel> {
        let query = sql!(
            "UPDATE registered_models SET description = $1, last_updated_timestamp = $2 WHERE name = $3",
            description,
            now,
            name
        );
        change_one(self, query, || model_not_found(name)).await?;
        self.get_registered_model(name).await
    }

    async fn rename_registered_model(
        &self,
        name: &str,
        new_name: &str,
        now: i64,
    ) -> Result<RegisteredModel> {
        let query = sql!(
            "UPDATE registered_models SET name = $1, last_updated_timestamp = $2 WHERE name = $3",
            new_name,
            now,
            name
        );
        let done = query.query().execute(&self.writer).await;
        match done {
            Ok(done) if done.rows_affected() == 0 => return Err(model_not_found(name)),
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(RegistryError::AlreadyExists(format!(
                    "Registered Model (name={new_name}) already exists."
                )))
            }
            Err(e) => return Err(db_err(e).into()),
        }
        self.get_registered_model(new_name).await
    }

    async fn delete_registered_model(&self, name: &str) -> Result<()> {
        change_one(
            self,
            sql!("DELETE FROM registered_models WHERE name = $1", name),
            || model_not_found(name),
        )
        .await
    }

    async fn set_registered_model_tag(&self, name: &str, tag: &KeyValue) -> Result<()> {
        self.get_registered_model(name).await?;
        upsert_model_tag(name, tag).execute(&self.writer).await?;
        Ok(())
    }

    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        self.get_registered_model(name).await?;
        // Deleting a tag that is not there succeeds, as in MLflow.
        sql!(
            "DELETE FROM registered_model_tags WHERE name = $1 AND key = $2",
            name,
            key
        )
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn create_model_version(&self, new: &NewModelVersion) -> Result<ModelVersion> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let row = sql!(
            "UPDATE registered_models SET last_version = last_version + 1, last_updated_timestamp = $1 \
             WHERE name = $2 RETURNING last_version",
            new.now,
            &new.name
        )
        .query()
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or_else(|| model_not_found(&new.name))?;
        let version: i64 = col(&row, "last_version")?;
        sql!(
            "INSERT INTO model_versions (name, version, creation_timestamp, last_updated_timestamp, user_id, \
             current_stage, description, source, storage_location, run_id, run_link, model_id) \
             VALUES ($1, $2, $3, $3, $4, 'None', $5, $6, $7, $8, $9, $10)",
            &new.name,
            version,
            new.now,
            &new.user_id,
            &new.description,
            &new.source,
            &new.storage_location,
            new.run_id.as_ref(),
            new.run_link.as_ref(),
            new.model_id.as_ref()
        )
        .execute(&mut *tx).await?;
        for tag in &new.tags {
            upsert_version_tag(&new.name, version, tag)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await.map_err(db_err)?;
        fetch_version(self, &new.name, version).await
    }

    async fn get_model_version(&self, name: &str, version: i64) -> Result<ModelVersion> {
        fetch_version(self, name, version).await
    }

    async fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
        now: i64,
    ) -> Result<ModelVersion> {
        let query = sql!(
            "UPDATE model_versions SET description = $1, last_updated_timestamp = $2 WHERE name = $3 AND version = $4",
            description,
            now,
            name,
            version
        );
        change_one(self, query, || version_not_found(name, version)).await?;
        fetch_version(self, name, version).await
    }

    async fn delete_model_version(&self, name: &str, version: i64) -> Result<()> {
        let query = sql!(
            "DELETE FROM model_versions WHERE name = $1 AND version = $2",
            name,
            version
        );
        change_one(self, query, || version_not_found(name, version)).await
    }

    async fn search_model_versions(&self, search: &RegistrySearch) -> Result<Page<ModelVersion>> {
        let mut sql = Sql::built(self.dialect, "");
        let mut conditions = vec!["1 = 1".to_string()];
        for c in &search.filter {
            conditions.push(version_condition(&mut sql, self.dialect, c)?);
        }
        let mut order = Vec::new();
        for o in &search.order_by {
            order.push(format!(
                "{} {}",
                version_column(&o.key)?,
                direction(o.ascending)
            ));
        }
        order.push("v.name ASC".into());
        order.push("v.version DESC".into());
        let select = format!("SELECT {VERSION_COLUMNS} FROM model_versions v");
        let (mut items, next_offset) = fetch_page(
            self,
            sql,
            &select,
            &conditions,
            &order,
            (search.max_results, search.offset),
            version_from_row,
        )
        .await?;
        attach_version_details(self, &mut items).await?;
        Ok(Page { items, next_offset })
    }

    async fn set_model_version_tag(&self, name: &str, version: i64, tag: &KeyValue) -> Result<()> {
        fetch_version(self, name, version).await?;
        upsert_version_tag(name, version, tag)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> Result<()> {
        fetch_version(self, name, version).await?;
        sql!(
            "DELETE FROM model_version_tags WHERE name = $1 AND version = $2 AND key = $3",
            name,
            version,
            key
        )
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn transition_stage(
        &self,
        name: &str,
        version: i64,
        stage: Stage,
        archive_existing: bool,
        now: i64,
    ) -> Result<ModelVersion> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        let done = sql!(
            "UPDATE model_versions SET current_stage = $1, last_updated_timestamp = $2 WHERE name = $3 AND version = $4",
            stage.as_str(),
            now,
            name,
            version
        )
        .execute(&mut *tx).await?;
        if done == 0 {
            return Err(version_not_found(name, version));
        }
        if archive_existing && matches!(stage, Stage::Staging | Stage::Production) {
            sql!(
                "UPDATE model_versions SET current_stage = 'Archived', last_updated_timestamp = $1 \
                 WHERE name = $2 AND current_stage = $3 AND version != $4",
                now,
                name,
                stage.as_str(),
                version
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await.map_err(db_err)?;
        fetch_version(self, name, version).await
    }

    async fn latest_versions(&self, name: &str, stages: &[Stage]) -> Result<Vec<ModelVersion>> {
        let model = self.get_registered_model(name).await?;
        Ok(model
            .latest_versions
            .into_iter()
            .filter(|v| stages.is_empty() || stages.contains(&v.current_stage))
            .collect())
    }

    async fn set_alias(&self, name: &str, alias: &str, version: i64) -> Result<()> {
        fetch_version(self, name, version).await?;
        sql!(
            "INSERT INTO registered_model_aliases (name, alias, version) VALUES ($1, $2, $3) \
             ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
            name,
            alias,
            version
        )
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn delete_alias(&self, name: &str, alias: &str) -> Result<()> {
        self.get_registered_model(name).await?;
        sql!(
            "DELETE FROM registered_model_aliases WHERE name = $1 AND alias = $2",
            name,
            alias
        )
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn get_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        self.get_registered_model(name).await?;
        let row = sql!(
            "SELECT version FROM registered_model_aliases WHERE name = $1 AND alias = $2",
            name,
            alias
        )
        .query()
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?
        // MLflow answers an unknown alias of a known model with INVALID_PARAMETER_VALUE.
        .ok_or_else(|| {
            RegistryError::InvalidParameter(format!("Registered model alias {alias} not found."))
        })?;
        fetch_version(self, name, col(&row, "version")?).await
    }

    async fn set_signature(
        &self,
        name: &str,
        version: i64,
        signature: &ModelSignature,
    ) -> Result<()> {
        let query = sql!(
            "UPDATE model_versions SET signature = $1 WHERE name = $2 AND version = $3",
            to_json(signature),
            name,
            version
        );
        change_one(self, query, || version_not_found(name, version)).await
    }

    async fn put_model_card(
        &self,
        name: &str,
        version: i64,
        card: &ModelCard,
        now: i64,
    ) -> Result<()> {
        fetch_version(self, name, version).await?;
        sql!(
            "INSERT INTO model_cards (name, version, intended_use, limitations, training_data, owners, \
             markdown, updated_timestamp) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (name, version) DO UPDATE SET intended_use = excluded.intended_use, \
             limitations = excluded.limitations, training_data = excluded.training_data, \
             owners = excluded.owners, markdown = excluded.markdown, \
             updated_timestamp = excluded.updated_timestamp",
            name,
            version,
            &card.intended_use,
            &card.limitations,
            &card.training_data,
            to_json(&card.owners),
            &card.markdown,
            now
        )
        .execute(&self.writer).await?;
        Ok(())
    }

    async fn get_model_card(&self, name: &str, version: i64) -> Result<Option<ModelCard>> {
        fetch_version(self, name, version).await?;
        let row = sql!(
            "SELECT intended_use, limitations, training_data, owners, markdown FROM model_cards \
             WHERE name = $1 AND version = $2",
            name,
            version
        )
        .query()
        .fetch_optional(&self.reader)
        .await
        .map_err(db_err)?;
        row.map(|row| {
            Ok(ModelCard {
                intended_use: col(&row, "intended_use")?,
                limitations: col(&row, "limitations")?,
                training_data: col(&row, "training_data")?,
                owners: from_json(&col::<String>(&row, "owners")?, "owners")?,
                markdown: col(&row, "markdown")?,
            })
        })
        .transpose()
    }
}
