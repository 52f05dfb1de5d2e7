//! The evaluations' image loops: one job per image on every core, with a progress bar, results in the images'
//! order (so reports do not depend on scheduling). The engine is `Sync`: the workers share it.

use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// A progress bar on stderr for `len` images.
pub fn progress(len: usize, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} images, {eta} left").expect("valid template"),
    );
    bar.set_message(message);
    bar
}

/// `job` on every item, on as many threads as the machine has cores, behind a progress bar titled `message`: the
/// results in the items' order, or a failed job's error (the other workers then stop at their next item).
pub fn map<T: Sync, R: Send>(
    items: &[T],
    message: &'static str,
    job: impl Fn(&T) -> Result<R, String> + Sync,
) -> Result<Vec<R>, String> {
    let bar = progress(items.len(), message);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, items.len().max(1));
    std::thread::scope(|scope| -> Result<(), String> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<(), String> {
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { return Ok(()) };
                        let result = job(item).inspect_err(|_| failed.store(true, Ordering::Relaxed))?;
                        results.lock().expect("no worker panicked holding the results")[i] = Some(result);
                        bar.inc(1);
                    }
                    Ok(())
                })
            })
            .collect();
        // Every worker is joined before an error is returned.
        let outcomes: Vec<_> = workers.into_iter().map(|w| w.join().expect("an evaluation worker panicked")).collect();
        outcomes.into_iter().collect()
    })?;
    bar.finish_and_clear();
    Ok(results
        .into_inner()
        .expect("no worker panicked holding the results")
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_the_items_order() {
        let items: Vec<u64> = (0..200).collect();
        // Uneven job lengths, so the workers finish out of order.
        let out = map(&items, "test", |&i| {
            std::thread::sleep(std::time::Duration::from_micros((i * 7919) % 300));
            Ok(i * i)
        })
        .unwrap();
        assert_eq!(out, items.iter().map(|i| i * i).collect::<Vec<_>>());
    }

    #[test]
    fn an_error_is_returned_and_stops_the_work() {
        let items: Vec<u32> = (0..10_000).collect();
        let ran = AtomicUsize::new(0);
        let out = map(&items, "test", |&i| {
            ran.fetch_add(1, Ordering::Relaxed);
            if i == 3 {
                Err(format!("item {i} failed"))
            } else {
                std::thread::sleep(std::time::Duration::from_micros(50));
                Ok(i)
            }
        });
        assert_eq!(out, Err("item 3 failed".to_owned()));
        assert!(ran.load(Ordering::Relaxed) < items.len(), "the workers stopped after the error");
    }

    #[test]
    fn no_items_no_results() {
        let out: Vec<u8> = map(&[] as &[u8], "test", |_| Ok(1)).unwrap();
        assert!(out.is_empty());
    }
}
