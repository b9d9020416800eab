//! Which version answers a request: the canary's share of traffic, sticky per request key, and
//! whether a copy goes to the shadow version.

use galley_serving::model::TrafficShare;

/// A roll in 0..100 for one request: fixed for a routing key (so a user keeps their version),
/// random otherwise.
pub fn roll(key: Option<&str>) -> u8 {
    let value = match key {
        Some(key) => fnv1a(key.as_bytes()),
        None => rand::random::<u64>(),
    };
    (value % 100) as u8
}

/// FNV-1a: stable across processes and releases, unlike std's hasher, so every server replica
/// sends a key to the same version.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The version that answers: the canary when the roll falls in its share.
pub fn answering_version(primary: i64, canary: Option<TrafficShare>, roll: u8) -> i64 {
    match canary {
        Some(share) if roll < share.percent => share.version,
        _ => primary,
    }
}

/// Whether this request is mirrored to the shadow. Uses its own roll so that shadow and canary
/// samples are independent.
pub fn mirrored(shadow: Option<TrafficShare>, roll: u8) -> Option<i64> {
    shadow
        .filter(|share| roll < share.percent)
        .map(|share| share.version)
}

/// Whether to log this request, given the deployment's sample rate (0 to 1). Random rather than
/// keyed: a sample must not depend on who sends the request.
pub fn sampled(rate: f64) -> bool {
    rate >= 1.0 || (rate > 0.0 && rand::random::<f64>() < rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(version: i64, percent: u8) -> Option<TrafficShare> {
        Some(TrafficShare { version, percent })
    }

    #[test]
    fn weights_are_honoured_within_tolerance() {
        let trials = 20_000;
        let canary_hits = (0..trials)
            .filter(|_| answering_version(1, share(2, 10), roll(None)) == 2)
            .count();
        let fraction = canary_hits as f64 / trials as f64;
        assert!((0.085..0.115).contains(&fraction), "canary got {fraction}");

        let keyed_hits = (0..trials)
            .filter(|i| answering_version(1, share(2, 25), roll(Some(&format!("user-{i}")))) == 2)
            .count();
        let fraction = keyed_hits as f64 / trials as f64;
        assert!(
            (0.22..0.28).contains(&fraction),
            "keyed canary got {fraction}"
        );
    }

    #[test]
    fn a_key_always_gets_the_same_version() {
        for i in 0..100 {
            let key = format!("session-{i}");
            let first = answering_version(1, share(2, 50), roll(Some(&key)));
            assert!((0..20).all(|_| answering_version(1, share(2, 50), roll(Some(&key))) == first));
        }
    }

    #[test]
    fn edges_of_the_share() {
        assert_eq!(answering_version(1, share(2, 0), 0), 1);
        assert_eq!(answering_version(1, share(2, 100), 99), 2);
        assert_eq!(answering_version(1, None, 0), 1);
        assert_eq!(mirrored(share(3, 100), 99), Some(3));
        assert_eq!(mirrored(share(3, 0), 0), None);
    }
}
