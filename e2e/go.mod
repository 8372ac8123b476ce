// The end-to-end test's own programs (image builder, the images' one binary,
// the assertions): standard library only, and a module of its own so that
// the repository's `go test ./...` does not run them.
module github.com/podtrail/podtrail/e2e

go 1.24.0
