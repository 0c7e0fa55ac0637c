package dataplane

import "fmt"

// ElementKind names a kind of part of a Spec that Compile can refuse.
type ElementKind string

// Element kinds, one per named part of the model.
const (
	KindListener    ElementKind = "listener"
	KindRule        ElementKind = "rule"
	KindStream      ElementKind = "stream"
	KindTargetGroup ElementKind = "targetGroup"
	KindCertificate ElementKind = "certificate"
)

// words is how each kind reads in a message.
var words = map[ElementKind]string{
	KindListener: "listener", KindRule: "rule", KindStream: "stream",
	KindTargetGroup: "target group", KindCertificate: "certificate",
}

// Element is one part of a Spec, by the name the Spec gives it.
type Element struct {
	Kind ElementKind
	Name string
}

// ElementError is Compile's refusal of one element. Compile's error joins
// them, nested as the Spec is (a rule's inside its listener's), so that a
// caller can tell which element to leave out without reading the text.
type ElementError struct {
	Element
	Err error
}

func (e *ElementError) Error() string {
	w := words[e.Kind]
	if w == "" {
		w = string(e.Kind)
	}
	return fmt.Sprintf("%s %q: %v", w, e.Name, e.Err)
}

func (e *ElementError) Unwrap() error { return e.Err }

// refuse wraps err (nil stays nil) as a refusal of the element kind/name.
func refuse(kind ElementKind, name string, err error) error {
	if err == nil {
		return nil
	}
	return &ElementError{Element: Element{Kind: kind, Name: name}, Err: err}
}

// Faults returns the elements an error from Compile refuses: for each problem,
// the innermost element it was found in, in order, without repeats. A rule's
// bad header is the rule's fault, not its listener's, so leaving out the rule
// is enough. Problems found outside any element (the emulated options) are
// not listed: the whole Spec carries them.
func Faults(err error) []Element {
	var out []Element
	seen := map[Element]bool{}
	var walk func(err error, in *Element)
	walk = func(err error, in *Element) {
		// This node itself, not one below it: errors.As would look down.
		if ee, ok := err.(*ElementError); ok { //nolint:errorlint // see above
			in = &ee.Element
		}
		var kids []error
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			kids = u.Unwrap()
		case interface{ Unwrap() error }:
			if k := u.Unwrap(); k != nil {
				kids = []error{k}
			}
		}
		if len(kids) == 0 {
			if in != nil && !seen[*in] {
				seen[*in] = true
				out = append(out, *in)
			}
			return
		}
		for _, k := range kids {
			walk(k, in)
		}
	}
	if err != nil {
		walk(err, nil)
	}
	return out
}
