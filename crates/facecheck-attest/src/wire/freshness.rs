//! The time window a statement's `iat` must fall in.

/// Where `iat` lies relative to the verifier's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    Fresh,
    Stale,
    Future,
}

/// Classifies `iat` against `[now - max_age, now + max_ahead]`, saturating at the ends of `u64`.
pub(crate) fn check_window(iat: u64, now: u64, max_age: u64, max_ahead: u64) -> Freshness {
    if iat < now.saturating_sub(max_age) {
        Freshness::Stale
    } else if iat > now.saturating_add(max_ahead) {
        Freshness::Future
    } else {
        Freshness::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_edges_and_saturation() {
        assert_eq!(check_window(70, 100, 30, 5), Freshness::Fresh);
        assert_eq!(check_window(69, 100, 30, 5), Freshness::Stale);
        assert_eq!(check_window(105, 100, 30, 5), Freshness::Fresh);
        assert_eq!(check_window(106, 100, 30, 5), Freshness::Future);
        assert_eq!(check_window(0, 10, u64::MAX, 0), Freshness::Fresh);
        assert_eq!(check_window(u64::MAX, u64::MAX - 1, 0, u64::MAX), Freshness::Fresh);
        assert_eq!(check_window(100, 100, 0, 0), Freshness::Fresh);
    }
}
