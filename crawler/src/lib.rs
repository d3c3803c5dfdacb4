//! Marketplace crawler: see README.md. The implementation arrives with the crawler issue.
