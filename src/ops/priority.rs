//! Effective priority through parent chains. (skeleton: to be implemented)
