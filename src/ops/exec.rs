//! The six operation types executed as store transactions.
