//! A memory budget shared by every image decode of a crawl.
//!
//! Each image's pixel limit alone does not bound memory: sixteen concurrent pages each decoding
//! a 40-megapixel image hold 2.5 GB of pixels at once. Before decoding, the crawler reads the
//! image's dimensions from its header and reserves `width × height × 4` bytes here; the
//! reservation is returned when the decode (and the hashing of its pixels) is over. An image
//! needing more than the whole budget is refused outright, and the rest wait their turn.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes per permit: the semaphore counts KiB so that budgets above 4 GiB fit its counter.
const UNIT: u64 = 1024;

/// The shared budget (cheap to clone).
#[derive(Debug, Clone)]
pub struct DecodeBudget {
    permits: Arc<Semaphore>,
    total_units: u32,
}

/// An image too large for the whole budget.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("decoding needs {needed} bytes, more than the decode budget of {budget} bytes")]
pub struct OverBudget {
    /// Bytes the image needs decoded.
    pub needed: u64,
    /// The whole budget.
    pub budget: u64,
}

/// Bytes an image of `width × height` takes decoded as RGBA.
#[must_use]
pub fn decoded_bytes(width: u32, height: u32) -> u64 {
    u64::from(width) * u64::from(height) * 4
}

impl DecodeBudget {
    /// A budget of `max_bytes` (rounded up to whole KiB, at most 4 TiB).
    #[must_use]
    pub fn new(max_bytes: u64) -> DecodeBudget {
        let units = u32::try_from(max_bytes.div_ceil(UNIT).max(1)).unwrap_or(u32::MAX);
        let units = units.min(u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
        DecodeBudget {
            permits: Arc::new(Semaphore::new(units as usize)),
            total_units: units,
        }
    }

    /// The whole budget in bytes.
    #[must_use]
    pub fn total_bytes(&self) -> u64 {
        u64::from(self.total_units) * UNIT
    }

    /// Bytes not reserved right now.
    #[must_use]
    pub fn available_bytes(&self) -> u64 {
        self.permits.available_permits() as u64 * UNIT
    }

    /// Reserves `bytes`, waiting while other decodes hold too much; refuses at once when
    /// `bytes` exceeds the whole budget. The reservation ends when the permit is dropped.
    pub async fn reserve(&self, bytes: u64) -> Result<OwnedSemaphorePermit, OverBudget> {
        let units = bytes.div_ceil(UNIT).max(1);
        let over = OverBudget {
            needed: bytes,
            budget: self.total_bytes(),
        };
        let units = u32::try_from(units).map_err(|_| over.clone())?;
        if units > self.total_units {
            return Err(over);
        }
        Ok(self
            .permits
            .clone()
            .acquire_many_owned(units)
            .await
            .expect("the decode budget's semaphore is never closed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn refuses_what_never_fits_and_queues_what_fits_later() {
        let budget = DecodeBudget::new(10 << 20);
        let too_big = decoded_bytes(4000, 4000);
        assert_eq!(
            budget.reserve(too_big).await.unwrap_err(),
            OverBudget {
                needed: too_big,
                budget: 10 << 20
            }
        );
        let first = budget.reserve(decoded_bytes(1500, 1000)).await.unwrap(); // 6 MB
        assert!(budget.available_bytes() < 5 << 20);
        // A second 6 MB decode waits while the first holds its pixels…
        let waiting = tokio::time::timeout(
            Duration::from_millis(100),
            budget.reserve(decoded_bytes(1500, 1000)),
        )
        .await;
        assert!(waiting.is_err(), "two 6 MB decodes ran in a 10 MB budget");
        // …and goes ahead once they are freed.
        drop(first);
        let second = tokio::time::timeout(
            Duration::from_millis(100),
            budget.reserve(decoded_bytes(1500, 1000)),
        )
        .await;
        assert!(second.is_ok());
    }

    #[test]
    fn huge_budgets_fit_the_counter() {
        assert_eq!(DecodeBudget::new(1 << 30).total_bytes(), 1 << 30);
        assert!(DecodeBudget::new(u64::MAX).total_bytes() >= 1 << 40);
    }
}
