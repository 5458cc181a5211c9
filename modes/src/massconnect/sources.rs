//! Source addresses: single addresses and CIDR ranges, expanded to the host addresses.

use std::net::{IpAddr, Ipv4Addr};

use crate::{ModeError, Result};

/// Most addresses one range may expand to.
const MAX: u64 = 1 << 16;

/// Expand `127.0.0.2`, `10.1.0.0/24` (every address but the network and broadcast ones for
/// prefixes under /31; for 127.0.0.0/8 ranges every address but .0) or `::1`.
pub fn expand(specs: &[String]) -> Result<Vec<IpAddr>> {
    let mut out = Vec::new();
    for s in specs {
        let s = s.trim();
        match s.split_once('/') {
            None => out.push(
                s.parse::<IpAddr>()
                    .map_err(|_| bad_source(s, format!("source {s:?} is not an IP address")))?,
            ),
            Some((a, p)) => {
                let base: Ipv4Addr = a.parse().map_err(|_| {
                    bad_source(
                        s,
                        format!("source range {s:?}: {a:?} is not an IPv4 address"),
                    )
                })?;
                let prefix: u32 = p.parse().ok().filter(|p| *p <= 32).ok_or_else(|| {
                    bad_source(s, format!("source range {s:?}: bad prefix {p:?}"))
                })?;
                let size = 1u64 << (32 - prefix);
                let net = u32::from(base) & (u32::MAX.checked_shl(32 - prefix).unwrap_or(0));
                let (first, last) = if size <= 2 {
                    (0, size - 1)
                } else {
                    (1, size - 2)
                };
                if last - first + 1 > MAX {
                    return Err(bad_source(
                        s,
                        format!("source range {s:?} has more than {MAX} addresses"),
                    ));
                }
                out.extend((first..=last).map(|i| IpAddr::V4(Ipv4Addr::from(net + i as u32))));
            }
        }
    }
    Ok(out)
}

/// This shard's share of the sources: every N-th one from index I when there are at least N,
/// otherwise all of them.
pub fn shard(all: &[IpAddr], index: u64, count: u64) -> Vec<IpAddr> {
    if (all.len() as u64) < count {
        return all.to_vec();
    }
    all.iter()
        .enumerate()
        .filter(|(i, _)| *i as u64 % count == index)
        .map(|(_, a)| *a)
        .collect()
}

/// A `sources` entry of the massconnect spec that is not an address or a range.
fn bad_source(entry: &str, problem: String) -> ModeError {
    crate::error::ConfigError::Address {
        address: entry.to_string(),
        problem,
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_expand_to_host_addresses() {
        let v = expand(&["127.0.0.0/29".into(), "::1".into(), "10.0.0.7/32".into()]).unwrap();
        let s: Vec<String> = v.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            s,
            [
                "127.0.0.1",
                "127.0.0.2",
                "127.0.0.3",
                "127.0.0.4",
                "127.0.0.5",
                "127.0.0.6",
                "::1",
                "10.0.0.7"
            ]
        );
        assert!(expand(&["10.0.0.0/8".into()]).is_err());
        assert!(expand(&["nope".into()])
            .unwrap_err()
            .to_string()
            .contains("nope"));
        assert_eq!(shard(&v, 1, 3).len(), 3);
        assert_eq!(shard(&v[..2], 1, 3).len(), 2);
    }
}
