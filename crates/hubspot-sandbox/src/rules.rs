//! Property validation rules as values: the rule types the sandbox enforces, their
//! arguments as `PublicPropertyValidationRule` carries them (Property Validations
//! Rollouts/215885, `propertyValidations.json`), and the check of one value against one rule.
//! The store keeps them (`Store::validation_rules`); `validations.rs` serves and enforces them.

use serde_json::{Value, json};

use super::error::ApiError;

/// The `ruleType` enum of `PublicPropertyValidationRule` in the specs.
pub const SPEC_RULE_TYPES: &[&str] = &[
    "AFTER_DATETIME_DURATION",
    "AFTER_DURATION",
    "ALPHANUMERIC",
    "BEFORE_DATETIME_DURATION",
    "BEFORE_DURATION",
    "DAYS_OF_WEEK",
    "DECIMAL",
    "DOMAIN",
    "EMAIL",
    "EMAIL_ALLOWED_DOMAINS",
    "EMAIL_BLOCKED_DOMAINS",
    "END_DATE",
    "END_DATETIME",
    "FORMAT",
    "MAX_LENGTH",
    "MAX_NUMBER",
    "MIN_LENGTH",
    "MIN_NUMBER",
    "PHONE_NUMBER_WITH_EXPLICIT_COUNTRY_CODE",
    "REGEX",
    "SPECIAL_CHARACTERS",
    "START_DATE",
    "START_DATETIME",
    "URL",
    "URL_ALLOWED_DOMAINS",
    "URL_BLOCKED_DOMAINS",
    "WHITESPACE",
];

/// The error code of a detail for a value a rule refuses.
pub const VIOLATION_CODE: &str = "VALIDATION_RULE_VIOLATION";

/// Property types the text rules apply to, and the number rules.
const TEXT_TYPES: &[&str] = &["string", "phone_number"];
const NUMBER_TYPES: &[&str] = &["number"];

/// The rule types the sandbox enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleType {
    Alphanumeric,
    EmailAllowedDomains,
    EmailBlockedDomains,
    MaxLength,
    MaxNumber,
    MinLength,
    MinNumber,
    Whitespace,
}

impl RuleType {
    pub const ALL: [RuleType; 8] = [
        RuleType::Alphanumeric,
        RuleType::EmailAllowedDomains,
        RuleType::EmailBlockedDomains,
        RuleType::MaxLength,
        RuleType::MaxNumber,
        RuleType::MinLength,
        RuleType::MinNumber,
        RuleType::Whitespace,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RuleType::Alphanumeric => "ALPHANUMERIC",
            RuleType::EmailAllowedDomains => "EMAIL_ALLOWED_DOMAINS",
            RuleType::EmailBlockedDomains => "EMAIL_BLOCKED_DOMAINS",
            RuleType::MaxLength => "MAX_LENGTH",
            RuleType::MaxNumber => "MAX_NUMBER",
            RuleType::MinLength => "MIN_LENGTH",
            RuleType::MinNumber => "MIN_NUMBER",
            RuleType::Whitespace => "WHITESPACE",
        }
    }

    /// The rule type a path names: one the sandbox enforces, else 400 (a type the spec does
    /// not know, or one the sandbox does not enforce, saying which).
    pub fn from_path(s: &str) -> Result<RuleType, ApiError> {
        if let Some(t) = RuleType::ALL.into_iter().find(|t| t.name() == s) {
            return Ok(t);
        }
        let enforced: Vec<&str> = RuleType::ALL.iter().map(|t| t.name()).collect();
        let message = if SPEC_RULE_TYPES.contains(&s) {
            format!(
                "The sandbox does not enforce {s} validation rules, so it does not accept them: a rule it \
                 stored without checking would let writes through that HubSpot refuses. It enforces {}",
                enforced.join(", ")
            )
        } else {
            format!(
                "ruleType {s} is not one of HubSpot's rule types ({})",
                SPEC_RULE_TYPES.join(", ")
            )
        };
        Err(ApiError::validation(message).with_context("ruleType", [s.to_string()]))
    }

    /// Property types the rule can be set on.
    pub fn property_types(self) -> &'static [&'static str] {
        match self {
            RuleType::MaxNumber | RuleType::MinNumber => NUMBER_TYPES,
            _ => TEXT_TYPES,
        }
    }
}

/// `ALPHANUMERIC`'s argument: which characters a value may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// `NUMERIC_ONLY`: ASCII digits.
    Numeric,
    /// `ALPHA_ONLY`: letters (Unicode alphabetic).
    Alpha,
    /// `ALPHANUMERIC`: letters and ASCII digits.
    Alphanumeric,
}

impl Charset {
    const NAMES: [&'static str; 3] = ["NUMERIC_ONLY", "ALPHA_ONLY", "ALPHANUMERIC"];

    fn parse(s: &str) -> Option<Charset> {
        match s {
            "NUMERIC_ONLY" => Some(Charset::Numeric),
            "ALPHA_ONLY" => Some(Charset::Alpha),
            "ALPHANUMERIC" => Some(Charset::Alphanumeric),
            _ => None,
        }
    }

    fn allows(self, c: char) -> bool {
        match self {
            Charset::Numeric => c.is_ascii_digit(),
            Charset::Alpha => c.is_alphabetic(),
            Charset::Alphanumeric => c.is_alphabetic() || c.is_ascii_digit(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Charset::Numeric => "digits only (NUMERIC_ONLY)",
            Charset::Alpha => "letters only (ALPHA_ONLY)",
            Charset::Alphanumeric => "letters and digits only (ALPHANUMERIC)",
        }
    }
}

/// What a rule checks, from its arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    MaxLength(usize),
    MinLength(usize),
    MaxNumber(f64),
    MinNumber(f64),
    Chars(Charset),
    /// Lower-cased.
    AllowedDomains(Vec<String>),
    /// Lower-cased.
    BlockedDomains(Vec<String>),
    Whitespace,
}

/// One stored rule: the arguments as given, and what they mean.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub rule_type: RuleType,
    pub arguments: Vec<String>,
    pub normalization: Option<bool>,
    pub check: Check,
}

fn bad_arguments(rule_type: RuleType, expected: &str, got: &[String]) -> ApiError {
    ApiError::validation(format!(
        "{} takes {expected} as ruleArguments, not {}",
        rule_type.name(),
        serde_json::to_string(got).unwrap_or_default()
    ))
    .with_context("ruleType", [rule_type.name().to_string()])
}

fn domains(rule_type: RuleType, args: &[String]) -> Result<Vec<String>, ApiError> {
    let ok = !args.is_empty()
        && args.iter().all(|d| {
            !d.is_empty()
                && d.contains('.')
                && !d.contains('@')
                && !d.chars().any(char::is_whitespace)
        });
    if !ok {
        return Err(bad_arguments(
            rule_type,
            "one or more email domains (\"example.com\", without \"@\")",
            args,
        ));
    }
    Ok(args.iter().map(|d| d.to_ascii_lowercase()).collect())
}

impl Rule {
    /// A rule from a `PublicPropertyValidationRuleUpdate` body, its arguments checked.
    pub fn parse(rule_type: RuleType, body: &Value) -> Result<Rule, ApiError> {
        let obj = body.as_object().ok_or_else(|| {
            ApiError::validation(
                "Invalid input JSON: the body must be a PublicPropertyValidationRuleUpdate object",
            )
        })?;
        let arguments: Vec<String> = match obj.get("ruleArguments") {
            Some(Value::Array(list)) => list
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    ApiError::validation(
                        "Invalid input JSON: `ruleArguments` must be an array of strings",
                    )
                })?,
            _ => {
                return Err(ApiError::validation(
                    "Invalid input JSON: missing required field `ruleArguments` (an array of strings)",
                ));
            }
        };
        let normalization = match obj.get("shouldApplyNormalization") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                return Err(ApiError::validation(
                    "Invalid input JSON: `shouldApplyNormalization` must be a boolean",
                ));
            }
        };
        let one = || match arguments.as_slice() {
            [a] => Some(a.as_str()),
            _ => None,
        };
        let count = |expected: &str| {
            one()
                .and_then(|a| a.parse::<usize>().ok())
                .ok_or_else(|| bad_arguments(rule_type, expected, &arguments))
        };
        let number = || {
            one()
                .and_then(|a| a.parse::<f64>().ok())
                .filter(|x| x.is_finite())
                .ok_or_else(|| bad_arguments(rule_type, "one number, as a string", &arguments))
        };
        let check = match rule_type {
            RuleType::MaxLength => Check::MaxLength(count(
                "one non-negative integer (the most characters allowed)",
            )?),
            RuleType::MinLength => Check::MinLength(count(
                "one non-negative integer (the fewest characters allowed)",
            )?),
            RuleType::MaxNumber => Check::MaxNumber(number()?),
            RuleType::MinNumber => Check::MinNumber(number()?),
            RuleType::Alphanumeric => {
                Check::Chars(one().and_then(Charset::parse).ok_or_else(|| {
                    bad_arguments(
                        rule_type,
                        &format!("one of {}", Charset::NAMES.join(", ")),
                        &arguments,
                    )
                })?)
            }
            RuleType::EmailAllowedDomains => Check::AllowedDomains(domains(rule_type, &arguments)?),
            RuleType::EmailBlockedDomains => Check::BlockedDomains(domains(rule_type, &arguments)?),
            RuleType::Whitespace => Check::Whitespace,
        };
        Ok(Rule {
            rule_type,
            arguments,
            normalization,
            check,
        })
    }

    /// `PublicPropertyValidationRule`.
    pub fn to_json(&self) -> Value {
        json!({
            "ruleType": self.rule_type.name(),
            "ruleArguments": self.arguments,
            "shouldApplyNormalization": self.normalization.unwrap_or(false),
        })
    }

    /// Why `value` breaks the rule, if it does. The value is checked as sent:
    /// `shouldApplyNormalization` is stored, not applied.
    pub fn violation(&self, value: &str) -> Option<String> {
        let name = self.rule_type.name();
        let length = || value.chars().count();
        let email_domain = || {
            value
                .rsplit_once('@')
                .map(|(_, d)| d.trim().to_ascii_lowercase())
        };
        match &self.check {
            Check::MaxLength(max) => (length() > *max).then(|| {
                format!(
                    "{name}: \"{value}\" is {} characters long; at most {max} are allowed",
                    length()
                )
            }),
            Check::MinLength(min) => (length() < *min).then(|| {
                format!(
                    "{name}: \"{value}\" is {} characters long; at least {min} are required",
                    length()
                )
            }),
            Check::MaxNumber(max) => value
                .parse::<f64>()
                .ok()
                .filter(|x| x > max)
                .map(|_| format!("{name}: {value} is more than {}", self.arguments[0])),
            Check::MinNumber(min) => value
                .parse::<f64>()
                .ok()
                .filter(|x| x < min)
                .map(|_| format!("{name}: {value} is less than {}", self.arguments[0])),
            Check::Chars(set) => value
                .chars()
                .any(|c| !set.allows(c))
                .then(|| format!("{name}: \"{value}\" may contain {}", set.describe())),
            Check::AllowedDomains(allowed) => match email_domain() {
                Some(d) if allowed.contains(&d) => None,
                _ => Some(format!(
                    "{name}: \"{value}\" is not an email address at an allowed domain ({})",
                    allowed.join(", ")
                )),
            },
            Check::BlockedDomains(blocked) => {
                email_domain().filter(|d| blocked.contains(d)).map(|d| {
                    format!("{name}: \"{value}\" is an email address at the blocked domain {d}")
                })
            }
            Check::Whitespace => (value.trim() != value)
                .then(|| format!("{name}: \"{value}\" has leading or trailing whitespace")),
        }
    }
}
