//! End-to-end tests of runway-rs live under tests/.
