//! Property validation rules, as HubSpot's property validations API serves them
//! (`propertyValidations.json`: Property Validations Rollouts/215885, `v3`, `2026-03` and
//! `2026-09`): `GET {prefix}/{objectTypeId}` (`CollectionResponsePublicPropertyValidationRuleMapNoPaging`,
//! the properties that have rules), `GET {prefix}/{objectTypeId}/{propertyName}`
//! (`CollectionResponsePublicPropertyValidationRuleNoPaging`), and `GET` and `PUT
//! {prefix}/{objectTypeId}/{propertyName}/rule-type/{ruleType}` (`PublicPropertyValidationRule`;
//! the PUT takes a `PublicPropertyValidationRuleUpdate` and answers 204). A PUT replaces the
//! property's rule of that type and leaves its other rules alone (HubSpot's property
//! validations guide).
//!
//! The rules are stored on every dialect; object writes are checked against them on 2026-09
//! only (`Dialect::enforces_validation_rules`). The spec's `ruleType` enum has 27 types; the
//! sandbox enforces eight of them (`RuleType`) and refuses a PUT of any other, so that no test
//! believes a rule it set is being checked when it is not.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::error::{ApiError, ErrorDetail};
use super::kinds::Kind;
use super::rules::{Rule, RuleType, SPEC_RULE_TYPES, VIOLATION_CODE};
use super::store::Store;

impl Store {
    fn rules_of(&self, kind: Kind, property: &str) -> &[Rule] {
        self.validation_rules
            .get(&kind)
            .and_then(|m| m.get(property))
            .map_or(&[], Vec::as_slice)
    }

    /// The property's definition, or HubSpot's 404.
    fn rule_property(
        &self,
        kind: Kind,
        name: &str,
    ) -> Result<&super::model::PropertyDef, ApiError> {
        self.property(kind, name).ok_or_else(|| {
            ApiError::not_found(format!("Unable to find property {name} on {kind}"))
                .with_context("propertyName", [name.to_string()])
        })
    }

    /// `GET .../property-validations/{objectTypeId}`: the properties with rules.
    pub fn list_validation_rules(&self, kind: Kind) -> Value {
        let results: Vec<Value> = self
            .validation_rules
            .get(&kind)
            .into_iter()
            .flatten()
            .filter(|(_, rules)| !rules.is_empty())
            .map(|(name, rules)| {
                let rules: Vec<Value> = rules.iter().map(Rule::to_json).collect();
                json!({"propertyName": name, "propertyValidationRules": rules})
            })
            .collect();
        json!({ "results": results })
    }

    /// `GET .../property-validations/{objectTypeId}/{propertyName}`.
    pub fn property_validation_rules(&self, kind: Kind, name: &str) -> Result<Value, ApiError> {
        self.rule_property(kind, name)?;
        let rules: Vec<Value> = self
            .rules_of(kind, name)
            .iter()
            .map(Rule::to_json)
            .collect();
        Ok(json!({ "results": rules }))
    }

    /// `GET .../property-validations/{objectTypeId}/{propertyName}/rule-type/{ruleType}`.
    pub fn validation_rule(
        &self,
        kind: Kind,
        name: &str,
        rule_type: &str,
    ) -> Result<Value, ApiError> {
        self.rule_property(kind, name)?;
        if !SPEC_RULE_TYPES.contains(&rule_type) {
            return Err(ApiError::validation(format!(
                "ruleType {rule_type} is not one of HubSpot's rule types ({})",
                SPEC_RULE_TYPES.join(", ")
            ))
            .with_context("ruleType", [rule_type.to_string()]));
        }
        self.rules_of(kind, name)
            .iter()
            .find(|r| r.rule_type.name() == rule_type)
            .map(Rule::to_json)
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "Property {name} on {kind} has no {rule_type} validation rule"
                ))
                .with_context("propertyName", [name.to_string()])
                .with_context("ruleType", [rule_type.to_string()])
            })
    }

    /// `PUT .../property-validations/{objectTypeId}/{propertyName}/rule-type/{ruleType}`:
    /// set the property's rule of that type, replacing only a rule of the same type.
    pub fn put_validation_rule(
        &mut self,
        kind: Kind,
        name: &str,
        rule_type: &str,
        body: &Value,
    ) -> Result<(), ApiError> {
        let def = self.rule_property(kind, name)?;
        let rule_type = RuleType::from_path(rule_type)?;
        if !rule_type.property_types().contains(&def.kind.as_str()) {
            return Err(ApiError::validation(format!(
                "{} rules apply to properties of type {}; {name} is of type {}",
                rule_type.name(),
                rule_type.property_types().join(" or "),
                def.kind
            ))
            .with_context("propertyName", [name.to_string()])
            .with_context("ruleType", [rule_type.name().to_string()]));
        }
        let rule = Rule::parse(rule_type, body)?;
        let rules = self
            .validation_rules
            .entry(kind)
            .or_default()
            .entry(name.to_string())
            .or_default();
        rules.retain(|r| r.rule_type != rule_type);
        rules.push(rule);
        rules.sort_by_key(|r| r.rule_type);
        Ok(())
    }

    /// One detail per rule of `property` that `value` breaks.
    pub fn rule_violations(&self, kind: Kind, property: &str, value: &str) -> Vec<ErrorDetail> {
        self.rules_of(kind, property)
            .iter()
            .filter_map(|r| {
                r.violation(value).map(|message| {
                    ErrorDetail::new(VIOLATION_CODE, message)
                        .with("propertyName", property)
                        .with("ruleType", r.rule_type.name())
                        .with("value", value)
                })
            })
            .collect()
    }

    /// The rules as `GET /_sandbox/dump` shows them: object → property → rules.
    pub fn dump_validation_rules(&self) -> Value {
        let map: serde_json::Map<String, Value> = self
            .validation_rules
            .iter()
            .filter(|(_, props)| props.values().any(|r| !r.is_empty()))
            .map(|(kind, props)| {
                let props: BTreeMap<&String, Vec<Value>> = props
                    .iter()
                    .filter(|(_, r)| !r.is_empty())
                    .map(|(p, r)| (p, r.iter().map(Rule::to_json).collect()))
                    .collect();
                (kind.name().to_string(), json!(props))
            })
            .collect();
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(rule_type: &str, args: &[&str]) -> Rule {
        Rule::parse(
            RuleType::from_path(rule_type).unwrap(),
            &json!({ "ruleArguments": args }),
        )
        .unwrap()
    }

    /// Each enforced rule at its boundaries: `(rule, arguments, value, passes)`.
    #[test]
    fn rules_hold_at_their_boundaries() {
        let table: &[(&str, &[&str], &str, bool)] = &[
            ("MAX_LENGTH", &["5"], "abcde", true),
            ("MAX_LENGTH", &["5"], "abcdef", false),
            ("MAX_LENGTH", &["5"], "ééééé", true), // characters, not bytes
            ("MAX_LENGTH", &["0"], "a", false),
            ("MIN_LENGTH", &["3"], "abc", true),
            ("MIN_LENGTH", &["3"], "ab", false),
            ("MAX_NUMBER", &["100"], "100", true),
            ("MAX_NUMBER", &["100"], "100.01", false),
            ("MAX_NUMBER", &["1.5"], "-7", true),
            ("MIN_NUMBER", &["1"], "1", true),
            ("MIN_NUMBER", &["1"], "0.999", false),
            ("MIN_NUMBER", &["-10"], "-10", true),
            ("ALPHANUMERIC", &["NUMERIC_ONLY"], "02139", true),
            ("ALPHANUMERIC", &["NUMERIC_ONLY"], "0213A", false),
            ("ALPHANUMERIC", &["NUMERIC_ONLY"], "021 39", false),
            ("ALPHANUMERIC", &["ALPHA_ONLY"], "Zoë", true),
            ("ALPHANUMERIC", &["ALPHA_ONLY"], "Zoe2", false),
            ("ALPHANUMERIC", &["ALPHANUMERIC"], "Acme42", true),
            ("ALPHANUMERIC", &["ALPHANUMERIC"], "Acme-42", false),
            (
                "EMAIL_ALLOWED_DOMAINS",
                &["example.com", "corp.io"],
                "a@Example.COM",
                true,
            ),
            (
                "EMAIL_ALLOWED_DOMAINS",
                &["example.com"],
                "a@corp.io",
                false,
            ),
            (
                "EMAIL_ALLOWED_DOMAINS",
                &["example.com"],
                "a@mail.example.com",
                false,
            ),
            (
                "EMAIL_ALLOWED_DOMAINS",
                &["example.com"],
                "no-at-sign",
                false,
            ),
            (
                "EMAIL_BLOCKED_DOMAINS",
                &["gmail.com"],
                "a@gmail.com",
                false,
            ),
            (
                "EMAIL_BLOCKED_DOMAINS",
                &["gmail.com"],
                "a@GMAIL.com",
                false,
            ),
            (
                "EMAIL_BLOCKED_DOMAINS",
                &["gmail.com"],
                "a@example.com",
                true,
            ),
            ("WHITESPACE", &[], "Acme Inc", true),
            ("WHITESPACE", &[], " Acme", false),
            ("WHITESPACE", &[], "Acme\t", false),
        ];
        for (rule_type, args, value, passes) in table {
            let r = rule(rule_type, args);
            let v = r.violation(value);
            assert_eq!(
                v.is_none(),
                *passes,
                "{rule_type} {args:?} {value:?}: {v:?}"
            );
            if let Some(message) = v {
                assert!(message.starts_with(rule_type), "{message}");
            }
        }
    }

    #[test]
    fn arguments_are_checked() {
        let refused: &[(&str, Value)] = &[
            ("MAX_LENGTH", json!({"ruleArguments": []})),
            ("MAX_LENGTH", json!({"ruleArguments": ["-1"]})),
            ("MAX_LENGTH", json!({"ruleArguments": ["5", "6"]})),
            ("MIN_LENGTH", json!({"ruleArguments": ["2.5"]})),
            ("MAX_NUMBER", json!({"ruleArguments": ["ten"]})),
            ("MIN_NUMBER", json!({"ruleArguments": ["NaN"]})),
            ("ALPHANUMERIC", json!({"ruleArguments": ["DIGITS"]})),
            ("EMAIL_BLOCKED_DOMAINS", json!({"ruleArguments": []})),
            (
                "EMAIL_ALLOWED_DOMAINS",
                json!({"ruleArguments": ["@example.com"]}),
            ),
            ("MAX_LENGTH", json!({"ruleArguments": [5]})),
            ("MAX_LENGTH", json!({})),
            (
                "MAX_LENGTH",
                json!({"ruleArguments": ["5"], "shouldApplyNormalization": "yes"}),
            ),
        ];
        for (rule_type, body) in refused {
            let e = Rule::parse(RuleType::from_path(rule_type).unwrap(), body).unwrap_err();
            assert_eq!(e.status, 400, "{rule_type} {body}");
            assert_eq!(e.category, "VALIDATION_ERROR");
        }
        let r = Rule::parse(
            RuleType::Whitespace,
            &json!({"ruleArguments": [], "shouldApplyNormalization": true}),
        )
        .unwrap();
        assert_eq!(
            r.to_json(),
            json!({"ruleType": "WHITESPACE", "ruleArguments": [], "shouldApplyNormalization": true})
        );
    }

    #[test]
    fn unenforced_and_unknown_rule_types_are_refused() {
        let e = RuleType::from_path("REGEX").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(
            e.message.contains("does not enforce REGEX"),
            "{}",
            e.message
        );
        let e = RuleType::from_path("NOPE").unwrap_err();
        assert!(e.message.contains("not one of"), "{}", e.message);
        for t in RuleType::ALL {
            assert!(SPEC_RULE_TYPES.contains(&t.name()));
            assert_eq!(RuleType::from_path(t.name()).unwrap(), t);
        }
    }

    #[test]
    fn a_put_replaces_only_the_rule_of_its_type() {
        let mut store = Store::new(&[], &[]);
        let put = |s: &mut Store, t: &str, args: Value| {
            s.put_validation_rule(Kind::Companies, "name", t, &json!({"ruleArguments": args}))
        };
        put(&mut store, "MAX_LENGTH", json!(["5"])).unwrap();
        put(&mut store, "MIN_LENGTH", json!(["2"])).unwrap();
        put(&mut store, "MAX_LENGTH", json!(["8"])).unwrap();
        let rules = store
            .property_validation_rules(Kind::Companies, "name")
            .unwrap();
        assert_eq!(
            rules["results"],
            json!([
                {"ruleType": "MAX_LENGTH", "ruleArguments": ["8"], "shouldApplyNormalization": false},
                {"ruleType": "MIN_LENGTH", "ruleArguments": ["2"], "shouldApplyNormalization": false},
            ])
        );
        assert_eq!(
            store.rule_violations(Kind::Companies, "name", "abcdefghi")[0].code,
            Some(VIOLATION_CODE.to_string())
        );
        assert!(
            store
                .rule_violations(Kind::Companies, "domain", "abcdefghi")
                .is_empty()
        );
        // Number rules need number properties, and properties must exist.
        assert_eq!(
            put(&mut store, "MAX_NUMBER", json!(["5"]))
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            store
                .put_validation_rule(
                    Kind::Companies,
                    "nope",
                    "MAX_LENGTH",
                    &json!({"ruleArguments": ["1"]})
                )
                .unwrap_err()
                .status,
            404
        );
    }
}
