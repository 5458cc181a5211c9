//! The Basic Profile's predefined URIs, and the URI syntax check.

pub const INVALID_URI: &str = "wamp.error.invalid_uri";
pub const NO_SUCH_PROCEDURE: &str = "wamp.error.no_such_procedure";
pub const PROCEDURE_ALREADY_EXISTS: &str = "wamp.error.procedure_already_exists";
pub const NO_SUCH_REGISTRATION: &str = "wamp.error.no_such_registration";
pub const NO_SUCH_SUBSCRIPTION: &str = "wamp.error.no_such_subscription";
pub const CANCELED: &str = "wamp.error.canceled";
pub const PROTOCOL_VIOLATION: &str = "wamp.error.protocol_violation";
pub const NO_SUCH_REALM: &str = "wamp.error.no_such_realm";
pub const SYSTEM_SHUTDOWN: &str = "wamp.close.system_shutdown";
pub const CLOSE_REALM: &str = "wamp.close.close_realm";
pub const GOODBYE_AND_OUT: &str = "wamp.close.goodbye_and_out";

/// Is `uri` in the namespace the spec keeps for WAMP itself (`wamp.`)? Peers may not
/// register procedures or publish there.
pub fn is_reserved(uri: &str) -> bool {
    uri.starts_with("wamp.")
}

/// Why a peer's `what` (topic, procedure) URI is refused with [`INVALID_URI`], if it is:
/// malformed, or reserved when the peer would `own` it (REGISTER, PUBLISH).
pub fn refusal(what: &str, uri: &str, own: bool) -> Option<String> {
    if !is_valid(uri) {
        Some(format!("invalid {what} {uri:?}"))
    } else if own && is_reserved(uri) {
        Some(format!(
            "{uri}: the wamp. namespace is reserved for the router"
        ))
    } else {
        None
    }
}

/// Is `uri` a valid URI under the spec's loose rules: one or more components separated by
/// `.`, none empty, none containing whitespace or `#`?
pub fn is_valid(uri: &str) -> bool {
    !uri.is_empty()
        && uri
            .split('.')
            .all(|c| !c.is_empty() && !c.chars().any(|ch| ch.is_whitespace() || ch == '#'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_uri_rules() {
        for ok in ["realm1", "com.example.topic", "a.b-c.d_e", "x.1"] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in ["", ".a", "a.", "a..b", "a b", "a.#", "a.\tb"] {
            assert!(!is_valid(bad), "{bad:?}");
        }
        assert!(is_reserved("wamp.session.count"));
        assert!(!is_reserved("wampx.a") && !is_reserved("com.wamp.a"));
    }
}
