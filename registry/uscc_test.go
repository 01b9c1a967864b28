package registry_test

import (
	"strings"
	"testing"

	"github.com/dataport/dataport/registry"
)

func TestValidateUSCC(t *testing.T) {
	// Codes of real, publicly registered companies: they must validate.
	for _, code := range []string{
		"9144030071526726XG", // 深圳市腾讯计算机系统有限公司
		"914403001922038216", // 华为技术有限公司
		"91330100799655058B", // 阿里巴巴（中国）有限公司
		"91110000802100433B", // 中国石油天然气集团有限公司
	} {
		if err := registry.ValidateUSCC(code); err != nil {
			t.Errorf("%s: %v", code, err)
		}
	}
	for code, want := range map[string]string{
		"9144030071526726XA":  "check character",
		"914403001922038217":  "check character",
		"91310000MA1FL4XQ2X":  "check character",
		"9144030071526726X":   "18 characters",
		"9144030071526726XGG": "18 characters",
		"91440300715267I6XG":  "not allowed",
		"91A40300715267266G":  "administrative division",
		"9144030071526726xg":  "not allowed",
		"":                    "18 characters",
	} {
		err := registry.ValidateUSCC(code)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want it to mention %q", code, err, want)
		}
	}
}

func TestCompleteUSCC(t *testing.T) {
	code, err := registry.CompleteUSCC("9144030071526726X")
	if err != nil || code != "9144030071526726XG" {
		t.Fatalf("CompleteUSCC = %q, %v", code, err)
	}
	if _, err := registry.CompleteUSCC("91440300715267OOX"); err == nil {
		t.Fatal("O is not in the alphabet")
	}
}
