// Stand-in for github.com/dagger/dagger/engine/distconsts: upstream's go.mod replaces it with ./engine/distconsts,
// a directory the module zip leaves out (it is a module of its own), and the Go module proxy serves no version of
// it. Replace directives of a dependency do not apply to the module that builds it, so ../go.mod points here.
module github.com/dagger/dagger/engine/distconsts

go 1.24
