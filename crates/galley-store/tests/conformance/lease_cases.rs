//! Conformance case for leases: one holder at a time, renewals, and takeover after expiry.

use std::sync::Arc;

use galley_core::LeaseStore;

pub async fn one_holder_until_expiry(store: Arc<dyn LeaseStore>) {
    assert!(store.try_lease("evaluation", "a", 0, 100).await.unwrap());
    assert!(!store.try_lease("evaluation", "b", 50, 150).await.unwrap());
    // The holder renews; others still wait.
    assert!(store.try_lease("evaluation", "a", 90, 200).await.unwrap());
    assert!(!store.try_lease("evaluation", "b", 150, 250).await.unwrap());
    // Another lease is independent.
    assert!(store
        .try_lease("materialization", "b", 150, 250)
        .await
        .unwrap());
    // Expired: the next replica takes over, and the old holder cannot renew.
    assert!(store.try_lease("evaluation", "b", 200, 300).await.unwrap());
    assert!(!store.try_lease("evaluation", "a", 210, 310).await.unwrap());
}
