//! Load from many connections at once: each runs its request in a loop through a warm-up, then
//! for the measured period; latencies and throughput come from the measured period only.

use crate::stats::summarize;
use std::future::Future;
use std::time::{Duration, Instant};

pub const WARM_UP: Duration = Duration::from_secs(1);

pub struct Figures {
    pub requests_per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub errors: usize,
    pub rss_kib: u64,
    pub peak_rss_kib: u64,
}

/// Runs `request` from `clients.len()` connections, each in a loop, for the warm-up and then the
/// measured period; returns the measured figures (RSS is filled in by the caller).
pub async fn load<C, F, Fut>(clients: Vec<C>, measure: Duration, request: F) -> Figures
where
    C: Clone + Send + 'static,
    F: Fn(C) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let start = Instant::now() + WARM_UP;
    let end = start + measure;
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| {
            let request = request.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                loop {
                    let began = Instant::now();
                    if began >= end {
                        break;
                    }
                    let ok = request(client.clone()).await;
                    if began >= start {
                        latencies.push(began.elapsed());
                        errors += usize::from(!ok);
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((mut more, failed)) = task.await {
            latencies.append(&mut more);
            errors += failed;
        }
    }
    let count = latencies.len();
    let summary = summarize(latencies);
    Figures {
        requests_per_second: count as f64 / measure.as_secs_f64(),
        p50: summary.median,
        p99: summary.p99,
        errors,
        rss_kib: 0,
        peak_rss_kib: 0,
    }
}

pub fn print(name: &str, figures: &Figures) {
    println!(
        "{name:<38} {:>9.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   errors {:>4}   RSS {:>6.1} MiB (peak {:.1})",
        figures.requests_per_second,
        figures.p50.as_secs_f64() * 1e3,
        figures.p99.as_secs_f64() * 1e3,
        figures.errors,
        figures.rss_kib as f64 / 1024.0,
        figures.peak_rss_kib as f64 / 1024.0,
    );
}
