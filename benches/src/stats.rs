//! Percentiles of measured durations, and a small deterministic PRNG (no dependency, same data every run).

use std::time::Duration;

pub struct Summary {
    pub median: Duration,
    pub p99: Duration,
    pub samples: usize,
}

pub fn summarize(mut samples: Vec<Duration>) -> Summary {
    samples.sort_unstable();
    let at = |q: f64| {
        samples
            .get(((samples.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Summary {
        median: at(0.5),
        p99: at(0.99),
        samples: samples.len(),
    }
}

/// xorshift64*: fast, reproducible, good enough to spread benchmark data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
