// Package arch holds no code: its test keeps the import direction that
// docs/architecture.md describes (who may import whom), so that a package never
// reaches into another's business unnoticed.
package arch
