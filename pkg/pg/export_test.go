package pg

// ScramVerifierWithSalt is scramVerifierWithSalt, for the test that checks
// it against PostgreSQL's own.
var ScramVerifierWithSalt = scramVerifierWithSalt
