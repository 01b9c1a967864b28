package awsodr

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// The schema names its non-structural checks by "func"; the registry implements
// them in ext.py. These are the same checks, against the same lists (tags.yaml,
// adx_categories.yaml, resources.yaml, services.yaml) read from the checkout.

// extChecks holds the registry's lists for one Read.
type extChecks struct {
	tags      map[string]bool
	adx       map[string]bool
	resources map[string]bool
	resList   []string
	services  map[string]bool // nil when the checkout has no services.yaml
}

// extFuncs lists the ext.py checks implemented here; compileSchema refuses others.
var extFuncs = map[string]bool{
	"ext_tags":                        true,
	"ext_adx_categories":              true,
	"ext_resources":                   true,
	"ext_services":                    true,
	"ext_resources_arn":               true,
	"ext_resources_host":              true,
	"ext_resources_controlled_access": true,
	"ext_resources_explore":           true,
}

func loadExtChecks(dir string) (*extChecks, error) {
	e := &extChecks{}
	var err error
	if e.tags, _, err = loadList(dir, "tags.yaml", true); err != nil {
		return nil, err
	}
	// ext.py: tags.append("aws-pds"), a tag every file may carry.
	e.tags["aws-pds"] = true
	if e.adx, _, err = loadList(dir, "adx_categories.yaml", true); err != nil {
		return nil, err
	}
	if e.resources, e.resList, err = loadList(dir, "resources.yaml", true); err != nil {
		return nil, err
	}
	// services.yaml lists the AWS services a tutorial may name. Not every copy of
	// the registry ships it; without it tutorial services are only type-checked.
	if e.services, _, err = loadList(dir, "services.yaml", false); err != nil {
		return nil, err
	}
	return e, nil
}

// loadList reads a registry list file: a YAML sequence of strings.
func loadList(dir, name string, required bool) (map[string]bool, []string, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if os.IsNotExist(err) && !required {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var list []string
	if err := yaml.Unmarshal(data, &list); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	set := make(map[string]bool, len(list))
	for _, s := range list {
		set[s] = true
	}
	return set, list, nil
}

var (
	// ext.py host_regex and controlled_access_regex, applied with re.fullmatch.
	hostRE          = compilePythonFullmatch(`^(https?:\/\/)?([\da-z\.-]+)\.([a-z\.]{2,63})(\/.*)*\/?$`)
	controlledAccRE = compilePythonFullmatch(`^(https?:\/\/)?([\da-z\.\-\_]+)\.([a-z\.]{2,63})(\/.*)*\/?$`)
	// ext.py explore_regex, ^\[.+\]\(https?:\/\/[\w\d.\-\/#\?\&\%=]+\)$ in its
	// current form (with "%": percent-encoded links are common). Python's \w is
	// Unicode-aware, hence the classes.
	exploreRE = regexp.MustCompile(`\A\[.+\]\(https?://[\p{L}\p{M}\p{N}_.\-/#?&%=]+\)\z`)
)

// run applies the check named fn to a value and says what is wrong, or "".
func (e *extChecks) run(fn, v string) string {
	switch fn {
	case "ext_tags":
		if !e.tags[v] {
			return fmt.Sprintf("%q is not a tag listed in tags.yaml", clipValue(v))
		}
	case "ext_adx_categories":
		if !e.adx[v] {
			return fmt.Sprintf("%q is not a category listed in adx_categories.yaml", clipValue(v))
		}
	case "ext_resources":
		if !e.resources[v] {
			return fmt.Sprintf("%q is not a resource type listed in resources.yaml (%s)", clipValue(v), strings.Join(e.resList, ", "))
		}
	case "ext_services":
		if e.services != nil && !e.services[v] {
			return fmt.Sprintf("%q is not a service listed in services.yaml", clipValue(v))
		}
	case "ext_resources_arn":
		if _, err := ParseARN(v); err != nil {
			return err.Error()
		}
	case "ext_resources_host":
		if !hostRE.MatchString(v) {
			return fmt.Sprintf("%q is not a host name or http(s) URL", clipValue(v))
		}
	case "ext_resources_controlled_access":
		if !controlledAccRE.MatchString(v) {
			return fmt.Sprintf("%q is not a URL to access instructions", clipValue(v))
		}
	case "ext_resources_explore":
		if !exploreRE.MatchString(v) {
			return fmt.Sprintf("%q is not a markdown link [text](http(s)://…)", clipValue(v))
		}
	}
	return ""
}

// ARN is an Amazon Resource Name: arn:partition:service:region:account:resource.
type ARN struct {
	Partition string
	Service   string
	Region    string
	Account   string
	Resource  string
}

func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.Account + ":" + a.Resource
}

// partitions are the AWS partitions. ext.py accepts aws and aws-iso; the others are
// the same cloud's other partitions and name resources as validly.
var partitions = map[string]bool{
	"aws": true, "aws-cn": true, "aws-us-gov": true, "aws-iso": true,
	"aws-iso-b": true, "aws-iso-e": true, "aws-iso-f": true, "aws-eusc": true,
}

var (
	serviceRE = regexp.MustCompile(`\A[a-z0-9][a-z0-9-]*\z`)
	regionRE  = regexp.MustCompile(`\A[a-z]{2}(-[a-z]+)+-[0-9]{1,2}\z`)
	accountRE = regexp.MustCompile(`\A[0-9]{12}\z`)
)

// ParseARN parses and checks an ARN: a known partition, a service, a region and
// account that are empty or well formed, and a resource. For S3 it checks the
// bucket (or access point) name by S3's naming rules, as the registry's ARN check
// does; an SNS topic ARN must have a region and an account.
func ParseARN(s string) (ARN, error) {
	bad := func(format string, args ...any) (ARN, error) {
		return ARN{}, fmt.Errorf("invalid ARN %q: %s", clipValue(s), fmt.Sprintf(format, args...))
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return bad("not of the form arn:partition:service:region:account:resource")
	}
	a := ARN{Partition: parts[1], Service: parts[2], Region: parts[3], Account: parts[4], Resource: parts[5]}
	switch {
	case !partitions[a.Partition]:
		return bad("unknown partition %q", a.Partition)
	case !serviceRE.MatchString(a.Service):
		return bad("service %q is not a service name", a.Service)
	case a.Region != "" && !regionRE.MatchString(a.Region):
		return bad("region %q is not a region code", a.Region)
	case a.Account != "" && !accountRE.MatchString(a.Account) && a.Account != "aws":
		return bad("account %q is not a 12-digit account id", a.Account)
	case a.Resource == "":
		return bad("no resource")
	}
	for _, r := range a.Resource {
		if unicode.IsControl(r) {
			return bad("control character in the resource")
		}
	}
	switch a.Service {
	case "s3":
		if _, _, err := a.S3Location(); err != nil {
			return bad("%v", err)
		}
	case "sns":
		// A topic lives in a region and an account. Its name is not checked
		// against SNS's naming rules (letters, digits, '-', '_'): the registry
		// does not check it, and its MAST entries (Hubble, JWST, Gaia, TESS) list
		// topics as "stpubdata/<mission>"; refusing those datasets for the name
		// of a notification topic would drop them from the catalog.
		switch {
		case a.Region == "":
			return bad("an SNS topic ARN needs a region")
		case !accountRE.MatchString(a.Account):
			return bad("an SNS topic ARN needs a 12-digit account id")
		}
	}
	return a, nil
}

// S3Location returns where an S3 ARN points: a bucket name and key prefix for a
// bucket ARN (arn:aws:s3:::bucket/prefix, region and account empty), or for an
// access point ARN (arn:aws:s3:region:account:accesspoint/name/prefix) the access
// point's ARN, which S3 accepts wherever it takes a bucket name.
func (a ARN) S3Location() (bucket, prefix string, err error) {
	if a.Service != "s3" {
		return "", "", fmt.Errorf("not an S3 ARN")
	}
	if a.Region == "" && a.Account == "" {
		bucket, prefix, _ = strings.Cut(a.Resource, "/")
		if bucket == "" {
			return "", "", fmt.Errorf("no bucket name before the first \"/\" (arn:aws:s3:::bucket/prefix)")
		}
		if err := checkBucketName(bucket); err != nil {
			return "", "", err
		}
		return bucket, prefix, nil
	}
	if a.Region == "" || a.Account == "" {
		return "", "", fmt.Errorf("an S3 bucket ARN has neither region nor account (arn:aws:s3:::bucket); an access point ARN has both")
	}
	name, ok := strings.CutPrefix(a.Resource, "accesspoint/")
	if !ok {
		return "", "", fmt.Errorf("an S3 ARN with region and account must name an access point (accesspoint/name), not %q", clipValue(a.Resource))
	}
	name, prefix, _ = strings.Cut(name, "/")
	if err := checkAccessPointName(name); err != nil {
		return "", "", err
	}
	ap := a
	ap.Resource = "accesspoint/" + name
	return ap.String(), prefix, nil
}

// checkBucketName applies S3's rules for general purpose bucket names
// (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html), as the
// registry's ARN check does.
func checkBucketName(b string) error {
	switch {
	case b == "":
		return fmt.Errorf("no bucket name")
	case len(b) < 3 || len(b) > 63:
		return fmt.Errorf("bucket name %q is %d characters long, not 3 to 63", clipValue(b), len(b))
	}
	for _, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return fmt.Errorf("bucket name %q has %q: only lowercase letters, digits, '.' and '-' are allowed", b, r)
		}
	}
	if !isAlnum(b[0]) || !isAlnum(b[len(b)-1]) {
		return fmt.Errorf("bucket name %q must begin and end with a letter or digit", b)
	}
	if strings.Contains(b, "..") {
		return fmt.Errorf("bucket name %q has two adjacent periods", b)
	}
	if addr, err := netip.ParseAddr(b); err == nil && addr.Is4() {
		return fmt.Errorf("bucket name %q is formatted as an IP address", b)
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(b, p) {
			return fmt.Errorf("bucket name %q begins with the reserved prefix %q", b, p)
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(b, s) {
			return fmt.Errorf("bucket name %q ends with the reserved suffix %q", b, s)
		}
	}
	return nil
}

// checkAccessPointName applies S3's rules for access point names: 3 to 50
// lowercase letters, digits and hyphens, beginning and ending with a letter or digit.
func checkAccessPointName(n string) error {
	if len(n) < 3 || len(n) > 50 {
		return fmt.Errorf("access point name %q is %d characters long, not 3 to 50", clipValue(n), len(n))
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("access point name %q has %q: only lowercase letters, digits and '-' are allowed", n, r)
		}
	}
	if !isAlnum(n[0]) || !isAlnum(n[len(n)-1]) {
		return fmt.Errorf("access point name %q must begin and end with a letter or digit", n)
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// typeService says which service's ARN each resource type (resources.yaml) has. An
// ARN of another service contradicts the Type: a catalog entry would offer an
// "S3 Bucket" that is an SNS topic.
var typeService = map[string]string{
	"S3 Bucket":               "s3",
	"SNS Topic":               "sns",
	"CloudFront Distribution": "cloudfront",
	"DB Snapshot":             "rds",
	"EBS Snapshot":            "ec2",
}

// checkResources applies the rules that span a resource's fields, after the schema
// has passed (so the fields have their types):
//   - an "S3 Bucket" has an ARN: ext.py's bucket-region check reads it, and without
//     it the bucket is unknown;
//   - an ARN's service agrees with the Type.
//
// Not enforced, though tempting: one ARN listed twice in a file (the schema has no
// "unique" on it, and real entries describe several datasets in one bucket this
// way), and an ARN region differing from Region (the registry does not compare
// them; real entries list topics in one region notifying for buckets in another).
func checkResources(resources *yaml.Node) []fieldError {
	resources = deref(resources)
	if resources == nil || resources.Kind != yaml.SequenceNode {
		return nil
	}
	var errs []fieldError
	for i, r := range resources.Content {
		r = deref(r)
		if r.Kind != yaml.MappingNode {
			continue
		}
		typ, arnNode := "", (*yaml.Node)(nil)
		for j := 0; j+1 < len(r.Content); j += 2 {
			switch r.Content[j].Value {
			case "Type":
				typ = deref(r.Content[j+1]).Value
			case "ARN":
				arnNode = deref(r.Content[j+1])
			}
		}
		field := fmt.Sprintf("Resources[%d].ARN", i)
		if arnNode == nil || isNull(arnNode) {
			if typ == "S3 Bucket" {
				errs = append(errs, fieldError{field: field, line: r.Line, msg: "an S3 Bucket resource needs its ARN (arn:aws:s3:::bucket)"})
			}
			continue
		}
		a, err := ParseARN(arnNode.Value)
		if err != nil {
			continue // reported by the schema's ARN check
		}
		if want, ok := typeService[typ]; ok && a.Service != want {
			errs = append(errs, fieldError{field: field, line: arnNode.Line,
				msg: fmt.Sprintf("%q is an ARN of service %q, but Type %q has %q ARNs", clipValue(arnNode.Value), a.Service, typ, want)})
		}
	}
	return errs
}
