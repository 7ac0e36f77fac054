// Package dbtest holds the tests of trace/instrument/dbsql against real databases: SQLite (modernc.org/sqlite,
// in memory) and a PostgreSQL server the test starts for itself. It is a module of its own so that the library
// does not depend on the drivers. It has no code to import.
package dbtest
