package registry_test

import (
	"testing"

	"github.com/dataport/dataport/registry"
)

// A unified social credit code is valid exactly when it is 18 characters whose
// third to eighth are digits and whose last is the check character GB 32100-2015
// gives for the first 17; an invalid one is refused with a reason.
func FuzzValidateUSCC(f *testing.F) {
	for _, s := range []string{"9144030071526726XG", "91310000MA1FL8KQ3X", "9144030071526726XH", "9144030071526726X",
		"91440300715267260O", "91AB030071526726XG", "数据数据数据", "9144030071526726xg"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		err := registry.ValidateUSCC(code)
		completes := false
		if len(code) == 18 {
			full, cerr := registry.CompleteUSCC(code[:17])
			completes = cerr == nil && full == code
		}
		digits := len(code) == 18
		for i := 2; digits && i < 8; i++ {
			digits = code[i] >= '0' && code[i] <= '9'
		}
		switch {
		case err == nil && !(completes && digits):
			t.Fatalf("%q accepted", code)
		case err != nil && completes && digits:
			t.Fatalf("%q refused: %v", code, err)
		case err != nil && err.Error() == "":
			t.Fatalf("%q refused without a reason", code)
		}
	})
}
