//! integrity checks
