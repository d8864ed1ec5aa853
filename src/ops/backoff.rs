//! Retry backoff. (skeleton: to be implemented)
