//! The one retry policy: how many more attempts, and how long to wait before each
//! (exponential back-off, capped).

use std::time::Duration;

/// Retries of transient failures (network errors, timeouts, HTTP 429 and 5xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts after the first one.
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one, up to [`MAX_BACKOFF`].
    pub backoff: Duration,
}

/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl Default for Retry {
    fn default() -> Self {
        Retry {
            retries: 3,
            backoff: Duration::from_millis(500),
        }
    }
}

/// The outcome of one failed attempt.
#[derive(Debug)]
pub enum Attempt<E> {
    /// Worth another try (said why, for the final message and for progress).
    Retry(String),
    /// Final: another try would fail the same way.
    Fail(E),
}

impl Retry {
    /// The wait before retry number `attempt` (0 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.min(16);
        self.backoff.saturating_mul(factor).min(MAX_BACKOFF)
    }

    /// Runs `attempt` (given its number, from 0) until it succeeds, fails for good, or
    /// the retries are spent; `on_retry(number, why)` is told before each wait, and
    /// `exhausted(last_why, attempts)` makes the error of the last transient failure.
    pub fn run<T, E>(
        &self,
        mut attempt: impl FnMut(u32) -> Result<T, Attempt<E>>,
        mut on_retry: impl FnMut(u32, &str),
        exhausted: impl FnOnce(String, u32) -> E,
    ) -> Result<T, E> {
        let mut number = 0;
        loop {
            match attempt(number) {
                Ok(value) => return Ok(value),
                Err(Attempt::Fail(e)) => return Err(e),
                Err(Attempt::Retry(why)) if number >= self.retries => {
                    return Err(exhausted(why, number + 1))
                }
                Err(Attempt::Retry(why)) => {
                    on_retry(number, &why);
                    std::thread::sleep(self.delay(number));
                    number += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_then_gives_up_saying_why() {
        let policy = Retry {
            retries: 2,
            backoff: Duration::from_millis(1),
        };
        assert_eq!(policy.delay(30), MAX_BACKOFF);
        let mut seen = Vec::new();
        let result: Result<(), String> = policy.run(
            |n| Err(Attempt::Retry(format!("try {n}"))),
            |n, why| seen.push(format!("{n}:{why}")),
            |why, attempts| format!("{why} after {attempts} attempts"),
        );
        assert_eq!(result.unwrap_err(), "try 2 after 3 attempts");
        assert_eq!(seen, ["0:try 0", "1:try 1"]);
        let result: Result<u32, String> = policy.run(
            |n| {
                if n == 1 {
                    Ok(7)
                } else {
                    Err(Attempt::Retry("x".into()))
                }
            },
            |_, _| {},
            |w, _| w,
        );
        assert_eq!(result.unwrap(), 7);
        let result: Result<u32, String> = policy.run(
            |_| Err(Attempt::Fail("final".into())),
            |_, _| panic!("no retry"),
            |w, _| w,
        );
        assert_eq!(result.unwrap_err(), "final");
    }
}
