//! Link and licence server: see README.md. The implementation arrives with the server issue.
