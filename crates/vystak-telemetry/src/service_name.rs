//! Deterministic `service.name`s, the seed's table: `vystak-{agent-name}`, `vystak-channel-{kind}`.

use std::fmt;

use crate::Error;

/// Prefix of every Vystak service name.
pub const PREFIX: &str = "vystak-";

/// A channel kind from the seed's service-naming table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Channel {
    /// `vystak-channel-chat`.
    Chat,
    /// `vystak-channel-slack`.
    Slack,
    /// `vystak-channel-discord`.
    Discord,
}

/// A validated Vystak `service.name`.
///
/// ```
/// use vystak_telemetry::{Channel, ServiceName};
/// assert_eq!(ServiceName::agent("assistant-agent").unwrap().as_str(), "vystak-assistant-agent");
/// assert_eq!(ServiceName::channel(Channel::Slack).as_str(), "vystak-channel-slack");
/// assert!(ServiceName::agent("  ").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServiceName(String);

impl ServiceName {
    /// `vystak-{agent-name}`.
    ///
    /// The name is trimmed. It must be non-empty and contain no whitespace or control characters.
    /// A name that already starts with `vystak-` is not prefixed twice
    /// (`agent("vystak-time")` → `vystak-time`), so config that carries the full service name works.
    ///
    /// # Errors
    /// [`Error::InvalidServiceName`] for an empty/whitespace-only name, one with inner whitespace or
    /// control characters, or the bare prefix `vystak-`.
    pub fn agent(name: &str) -> Result<Self, Error> {
        let trimmed = name.trim();
        let invalid = |reason| Error::InvalidServiceName {
            name: name.to_owned(),
            reason,
        };
        if trimmed.is_empty() {
            return Err(invalid("the agent name is empty"));
        }
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(
                "the agent name contains whitespace or control characters",
            ));
        }
        if let Some(rest) = trimmed.strip_prefix(PREFIX) {
            if rest.is_empty() {
                return Err(invalid("the agent name is only the `vystak-` prefix"));
            }
            return Ok(Self(trimmed.to_owned()));
        }
        Ok(Self(format!("{PREFIX}{trimmed}")))
    }

    /// `vystak-channel-chat`, `vystak-channel-slack` or `vystak-channel-discord`.
    pub fn channel(kind: Channel) -> Self {
        Self(
            match kind {
                Channel::Chat => "vystak-channel-chat",
                Channel::Slack => "vystak-channel-slack",
                Channel::Discord => "vystak-channel-discord",
            }
            .to_owned(),
        )
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ServiceName> for String {
    fn from(name: ServiceName) -> String {
        name.0
    }
}

impl AsRef<str> for ServiceName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_table() {
        let cases = [
            ("assistant-agent", "vystak-assistant-agent"),
            ("weather-agent", "vystak-weather-agent"),
            ("  time-agent\n", "vystak-time-agent"),
            ("vystak-coordinator", "vystak-coordinator"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                ServiceName::agent(input).unwrap().as_str(),
                expected,
                "{input:?}"
            );
        }
        assert_eq!(
            ServiceName::channel(Channel::Chat).as_str(),
            "vystak-channel-chat"
        );
        assert_eq!(
            ServiceName::channel(Channel::Slack).as_str(),
            "vystak-channel-slack"
        );
        assert_eq!(
            ServiceName::channel(Channel::Discord).as_str(),
            "vystak-channel-discord"
        );
    }

    #[test]
    fn invalid_agent_names_are_errors_not_bare_prefixes() {
        for bad in ["", "   ", "\t\n", "two words", "bell\u{7}", "vystak-"] {
            let err = ServiceName::agent(bad).unwrap_err();
            assert!(
                matches!(err, Error::InvalidServiceName { .. }),
                "{bad:?} gave {err:?}"
            );
        }
    }

    #[test]
    fn converts_to_string() {
        let name = ServiceName::agent("a").unwrap();
        assert_eq!(name.to_string(), "vystak-a");
        let s: String = name.into();
        assert_eq!(s, "vystak-a");
    }
}
