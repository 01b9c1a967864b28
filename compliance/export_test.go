package compliance

// CompileWithoutTests compiles a pack without running its own cases: the rule tests
// use it to check that removing any rule makes one of them fail.
func CompileWithoutTests(src []byte) (*Pack, error) { return compile(src, false) }
