//! SQL text assembled at run time (optional filters, `IN` lists) with its
//! arguments bound as it grows. sqlx's own `QueryBuilder` writes `?` for the
//! `Any` driver, which PostgreSQL refuses; this one writes `$n`, which both
//! backends read.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, Arguments, Encode, Type};

/// A query being built: push text, bind values, then fetch.
pub struct Sql<'q> {
    text: String,
    args: AnyArguments<'q>,
    count: usize,
    error: Option<sqlx::error::BoxDynError>,
}

impl<'q> Sql<'q> {
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            args: AnyArguments::default(),
            count: 0,
            error: None,
        }
    }

    /// Appends SQL text as is.
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends the placeholder of a new argument bound to `value`.
    pub fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'q + Encode<'q, Any> + Type<Any>,
    {
        self.count += 1;
        self.text.push('$');
        self.text.push_str(&self.count.to_string());
        if let Err(e) = self.args.add(value) {
            self.error.get_or_insert(e);
        }
        self
    }

    /// Appends `($a, $b, …)`, one argument for each value; `(NULL)` for
    /// none, which matches nothing.
    pub fn bind_list<T, I>(&mut self, values: I) -> &mut Self
    where
        T: 'q + Encode<'q, Any> + Type<Any>,
        I: IntoIterator<Item = T>,
    {
        self.text.push('(');
        let mut empty = true;
        for value in values {
            if !empty {
                self.text.push_str(", ");
            }
            self.bind(value);
            empty = false;
        }
        if empty {
            self.text.push_str("NULL");
        }
        self.text.push(')');
        self
    }

    pub fn sql(&self) -> &str {
        &self.text
    }

    pub async fn fetch_all<'e, E>(self, executor: E) -> sqlx::Result<Vec<AnyRow>>
    where
        E: sqlx::Executor<'e, Database = Any>,
    {
        if let Some(e) = self.error {
            return Err(sqlx::Error::Encode(e));
        }
        sqlx::query_with(&self.text, self.args)
            .fetch_all(executor)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_placeholders_in_order() {
        let mut q = Sql::new("SELECT 1 FROM t WHERE a = ");
        q.bind("x").push(" AND b IN ").bind_list([1_i64, 2, 3]);
        q.push(" AND c IN ").bind_list(Vec::<i64>::new());
        assert_eq!(
            q.sql(),
            "SELECT 1 FROM t WHERE a = $1 AND b IN ($2, $3, $4) AND c IN (NULL)"
        );
    }
}
