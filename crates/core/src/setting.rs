//! The error every config section returns: which key is at fault and what to do about it. A
//! leaf, so each component can validate its own section without knowing about the file it came
//! from; `config` adds the file's path.

/// An invalid setting: the dotted key (`scoring.fit[2].op`) and a message that says what is
/// accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub key: String,
    pub message: String,
}

impl Invalid {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid {
            key: key.into(),
            message: message.into(),
        }
    }
}
