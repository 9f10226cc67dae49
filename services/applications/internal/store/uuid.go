package store

import "github.com/google/uuid"

// validUUID guards queries: a malformed id is simply not found, rather
// than a database error.
func validUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil
}
