//! Cancelling a running operation from outside it: a Ctrl-C handler, or another thread of a C
//! program (`installer_ctx_cancel`). A token travels in the operation's options, as rayon and
//! tokio programs pass a `CancellationToken`: there is no process-global flag, so cancelling
//! one operation never affects another, and a caller can run the next one after resetting it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::{Error, Result};

/// A cancellation token: clones share one flag. The operation holding it checks it per file
/// and per unpacked chunk, stops, rolls back, and returns [`Error::Cancelled`].
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A token that is not cancelled.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Asks the operations holding this token to stop. Callable from any thread (one atomic
    /// store, nothing else), at any time; a token stays cancelled until [`Cancel::reset`].
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Makes the token usable again, for a caller that runs its next operation with it.
    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    /// Whether [`Cancel::cancel`] was called (and not reset since).
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `Err(Error::Cancelled)` once cancelled: the check of every long loop.
    pub(crate) fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag_and_reset_clears_it() {
        let token = Cancel::new();
        let other = token.clone();
        assert!(token.check().is_ok());
        other.cancel();
        assert!(token.is_cancelled());
        assert!(matches!(token.check(), Err(Error::Cancelled)));
        token.reset();
        assert!(!other.is_cancelled());
        // A separate token is never touched by another's cancel.
        let separate = Cancel::new();
        token.cancel();
        assert!(!separate.is_cancelled());
    }
}
