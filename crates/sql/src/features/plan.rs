//! Plans one analyst query with pqlsync's typed parameters.
//!
//! DataFusion's `SessionContext::sql` cannot declare the type of a named placeholder, so
//! `$as_of - INTERVAL '14 days'` would infer `$as_of` as an interval. We plan through
//! `SqlToRel` with the parameter types declared up front (the same mechanism `PREPARE` uses),
//! then bind the values into the plan. Values never enter SQL text.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::{
    ParamValues, ResolvedTableReference, ScalarValue, TableReference, plan_datafusion_err,
};
use datafusion::datasource::provider_as_source;
use datafusion::error::Result;
use datafusion::execution::SessionState;
use datafusion::logical_expr::planner::{ContextProvider, ExprPlanner, RelationPlanner};
use datafusion::logical_expr::{
    AggregateUDF, HigherOrderUDF, LogicalPlan, ScalarUDF, TableSource, WindowUDF,
};
use datafusion::sql::planner::{ParserOptions, PlannerContext, SqlToRel};
use datafusion::sql::sqlparser::ast::Statement;

/// A named, typed query parameter.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: &'static str,
    pub value: ScalarValue,
}

/// Plan `statement` against `state`'s catalog, with `params` bound by name (`$name`).
pub async fn plan_query(
    state: &SessionState,
    statement: &Statement,
    params: &[Param],
) -> Result<LogicalPlan> {
    let catalog = &state.config_options().catalog;
    let (default_catalog, default_schema) = (
        catalog.default_catalog.clone(),
        catalog.default_schema.clone(),
    );
    let df_statement = datafusion::sql::parser::Statement::Statement(Box::new(statement.clone()));
    let references = state.resolve_table_references(&df_statement)?;
    let mut tables = HashMap::with_capacity(references.len());
    for reference in references {
        let resolved = reference.clone().resolve(&default_catalog, &default_schema);
        if tables.contains_key(&resolved) {
            continue;
        }
        if let Ok(schema) = state.schema_for_ref(reference)
            && let Some(table) = schema.table(&resolved.table).await?
        {
            tables.insert(resolved, provider_as_source(table));
        }
    }
    let provider = Provider {
        state,
        tables,
        default_catalog,
        default_schema,
    };
    let sql_options = &state.config_options().sql_parser;
    let options = ParserOptions::new()
        .with_parse_float_as_decimal(sql_options.parse_float_as_decimal)
        .with_enable_ident_normalization(sql_options.enable_ident_normalization)
        .with_map_string_types_to_utf8view(sql_options.map_string_types_to_utf8view);
    let types: Vec<Option<FieldRef>> = params
        .iter()
        .map(|p| Some(Arc::new(Field::new(p.name, p.value.data_type(), true))))
        .collect();
    let mut context = PlannerContext::new().with_prepare_param_data_types(types);
    let plan = SqlToRel::new_with_options(&provider, options)
        .sql_statement_to_plan_with_context(statement.clone(), &mut context)?;
    let values: Vec<ScalarValue> = params.iter().map(|p| p.value.clone()).collect();
    plan.with_param_values(ParamValues::from(values))
}

/// Resolves tables and functions from a session for `SqlToRel`; tables are looked up ahead
/// of planning because catalog lookups are async and planning is not.
struct Provider<'a> {
    state: &'a SessionState,
    tables: HashMap<ResolvedTableReference, Arc<dyn TableSource>>,
    default_catalog: String,
    default_schema: String,
}

impl ContextProvider for Provider<'_> {
    fn get_table_source(&self, name: TableReference) -> Result<Arc<dyn TableSource>> {
        let resolved = name.resolve(&self.default_catalog, &self.default_schema);
        self.tables
            .get(&resolved)
            .cloned()
            .ok_or_else(|| plan_datafusion_err!("table '{resolved}' not found"))
    }

    fn get_expr_planners(&self) -> &[Arc<dyn ExprPlanner>] {
        self.state.expr_planners()
    }

    fn get_relation_planners(&self) -> &[Arc<dyn RelationPlanner>] {
        self.state.relation_planners()
    }

    fn get_function_meta(&self, name: &str) -> Option<Arc<ScalarUDF>> {
        self.state.scalar_functions().get(name).cloned()
    }

    fn get_higher_order_meta(&self, name: &str) -> Option<Arc<HigherOrderUDF>> {
        self.state.higher_order_functions().get(name).cloned()
    }

    fn get_aggregate_meta(&self, name: &str) -> Option<Arc<AggregateUDF>> {
        self.state.aggregate_functions().get(name).cloned()
    }

    fn get_window_meta(&self, name: &str) -> Option<Arc<WindowUDF>> {
        self.state.window_functions().get(name).cloned()
    }

    fn get_variable_type(&self, _variable_names: &[String]) -> Option<DataType> {
        None
    }

    fn options(&self) -> &ConfigOptions {
        self.state.config_options()
    }

    fn udf_names(&self) -> Vec<String> {
        self.state.scalar_functions().keys().cloned().collect()
    }

    fn higher_order_function_names(&self) -> Vec<String> {
        self.state
            .higher_order_functions()
            .keys()
            .cloned()
            .collect()
    }

    fn udaf_names(&self) -> Vec<String> {
        self.state.aggregate_functions().keys().cloned().collect()
    }

    fn udwf_names(&self) -> Vec<String> {
        self.state.window_functions().keys().cloned().collect()
    }
}
