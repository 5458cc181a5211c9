//! Process limits and the host settings that cap how many connections can be opened.

use std::path::Path;

/// Raise the soft RLIMIT_NOFILE to the hard limit; returns the (new soft, hard) pair.
pub fn raise_nofile() -> std::io::Result<(u64, u64)> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if r.rlim_cur < r.rlim_max {
            let want = libc::rlimit {
                rlim_cur: r.rlim_max,
                rlim_max: r.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                r.rlim_cur = r.rlim_max;
            }
        }
    }
    Ok((r.rlim_cur, r.rlim_max))
}

/// A sysctl under /proc/sys, as text (`net.ipv4.ip_local_port_range` style name).
pub fn sysctl(name: &str) -> Option<String> {
    let p = Path::new("/proc/sys").join(name.replace('.', "/"));
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

/// `net.ipv4.tcp_fastopen` bits: clients may send data in the SYN.
pub const FASTOPEN_CLIENT: u32 = 1;
/// `net.ipv4.tcp_fastopen` bits: servers take data that came in the SYN.
pub const FASTOPEN_SERVER: u32 = 2;

/// The host's `net.ipv4.tcp_fastopen` bit mask.
pub fn tcp_fastopen() -> Option<u32> {
    sysctl("net.ipv4.tcp_fastopen")?.parse().ok()
}

/// The ephemeral port range (first, last).
pub fn local_port_range() -> Option<(u32, u32)> {
    let v = sysctl("net.ipv4.ip_local_port_range")?;
    let mut it = v.split_whitespace().filter_map(|x| x.parse().ok());
    Some((it.next()?, it.next()?))
}

static TRIM: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Set how to give freed memory back to the system (the binary's allocator knows how:
/// `mi_collect(true)` for mimalloc). Called per thread by [`trim_memory`].
pub fn set_trim_hook(f: fn()) {
    let _ = TRIM.set(f);
}

/// Return this thread's freed-but-cached memory to the system, if a hook is set; used before
/// sampling resident memory so it counts live data, not allocator caches.
pub fn trim_memory() {
    if let Some(f) = TRIM.get() {
        f();
    }
}

/// Resident memory of this process in bytes (user space: heap, stacks, mapped pages).
pub fn resident_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * page.max(4096) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nofile_is_raised_to_the_hard_limit() {
        let (soft, hard) = raise_nofile().unwrap();
        assert_eq!(soft, hard);
        assert!(local_port_range().is_some_and(|(a, b)| a <= b));
        assert!(resident_bytes().unwrap() > 0);
    }
}
