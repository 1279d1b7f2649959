"""Stand-in for github.com/stretchr/testify/assert, which cannot be fetched offline.

Go benchmark tests (HumanEval-X, MBXP-style programs, model-written tests) import it; the stand-in keeps
testify v1.8's semantics for the common assertions (ObjectsAreEqual is reflect.DeepEqual with []byte
compared by content; InDelta takes the built-in numeric types) so a wrong answer fails as it would there.
The job's files carry this source, so the compile cache key changes with it.
"""

from __future__ import annotations

# Stand-in for github.com/stretchr/testify/assert (v1.8 semantics): the common assertions as package
# functions taking a TestingT, plus the same set as methods of assert.New(t) (generated below).
_GO_TESTIFY_FUNCS = r'''package assert

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
)

// TestingT is what the assertions need from *testing.T.
type TestingT interface {
	Errorf(format string, args ...interface{})
}

type tHelper interface{ Helper() }

type Assertions struct{ t TestingT }

func New(t TestingT) *Assertions { return &Assertions{t} }

func message(msgAndArgs []interface{}) string {
	if len(msgAndArgs) == 0 {
		return ""
	}
	if f, ok := msgAndArgs[0].(string); ok {
		if len(msgAndArgs) == 1 {
			return f
		}
		return fmt.Sprintf(f, msgAndArgs[1:]...)
	}
	return fmt.Sprintf("%+v", msgAndArgs[0])
}

func Fail(t TestingT, failure string, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	text := "\n\tError:      \t" + failure
	if m := message(msgAndArgs); m != "" {
		text += "\n\tMessages:   \t" + m
	}
	t.Errorf("%s", text)
	return false
}

// ObjectsAreEqual is reflect.DeepEqual, except that []byte values compare by content (nil == empty).
func ObjectsAreEqual(expected, actual interface{}) bool {
	if expected == nil || actual == nil {
		return expected == actual
	}
	exp, ok := expected.([]byte)
	if !ok {
		return reflect.DeepEqual(expected, actual)
	}
	act, ok := actual.([]byte)
	if !ok {
		return false
	}
	if exp == nil || act == nil {
		return exp == nil && act == nil
	}
	return bytes.Equal(exp, act)
}

// ObjectsAreEqualValues also accepts expected converted to actual's type (int32(1) vs int64(1)).
func ObjectsAreEqualValues(expected, actual interface{}) bool {
	if ObjectsAreEqual(expected, actual) {
		return true
	}
	actualType := reflect.TypeOf(actual)
	if actualType == nil {
		return false
	}
	expectedValue := reflect.ValueOf(expected)
	if expectedValue.IsValid() && expectedValue.Type().ConvertibleTo(actualType) {
		return reflect.DeepEqual(expectedValue.Convert(actualType).Interface(), actual)
	}
	return false
}

func isFunction(arg interface{}) bool {
	return arg != nil && reflect.TypeOf(arg).Kind() == reflect.Func
}

func formatUnequal(expected, actual interface{}) (string, string) {
	if reflect.TypeOf(expected) != reflect.TypeOf(actual) {
		return fmt.Sprintf("%T(%#v)", expected, expected), fmt.Sprintf("%T(%#v)", actual, actual)
	}
	return fmt.Sprintf("%#v", expected), fmt.Sprintf("%#v", actual)
}

func Equal(t TestingT, expected, actual interface{}, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	if isFunction(expected) || isFunction(actual) {
		return Fail(t, fmt.Sprintf("Invalid operation: %#v == %#v (cannot take func type as argument)",
			expected, actual), msgAndArgs...)
	}
	if !ObjectsAreEqual(expected, actual) {
		e, a := formatUnequal(expected, actual)
		return Fail(t, "Not equal: \n\t            \texpected: "+e+"\n\t            \tactual  : "+a, msgAndArgs...)
	}
	return true
}

func NotEqual(t TestingT, expected, actual interface{}, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	if isFunction(expected) || isFunction(actual) {
		return Fail(t, fmt.Sprintf("Invalid operation: %#v != %#v (cannot take func type as argument)",
			expected, actual), msgAndArgs...)
	}
	if ObjectsAreEqual(expected, actual) {
		return Fail(t, fmt.Sprintf("Should not be: %#v", actual), msgAndArgs...)
	}
	return true
}

func EqualValues(t TestingT, expected, actual interface{}, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	if !ObjectsAreEqualValues(expected, actual) {
		e, a := formatUnequal(expected, actual)
		return Fail(t, "Not equal: \n\t            \texpected: "+e+"\n\t            \tactual  : "+a, msgAndArgs...)
	}
	return true
}

func True(t TestingT, value bool, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	if !value {
		return Fail(t, "Should be true", msgAndArgs...)
	}
	return true
}

func False(t TestingT, value bool, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	if value {
		return Fail(t, "Should be false", msgAndArgs...)
	}
	return true
}

func isNil(object interface{}) bool {
	if object == nil {
		return true
	}
	value := reflect.ValueOf(object)
	switch value.Kind() {
	case reflect.Chan, reflect.Func, reflect.Interface, reflect.Map, reflect.Ptr, reflect.Slice,
		reflect.UnsafePointer:
		return value.IsNil()
	}
	return false
}

func Nil(t TestingT, object interface{}, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	if !isNil(object) {
		return Fail(t, fmt.Sprintf("Expected nil, but got: %#v", object), msgAndArgs...)
	}
	return true
}

func NotNil(t TestingT, object interface{}, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	if isNil(object) {
		return Fail(t, "Expected value not to be nil.", msgAndArgs...)
	}
	return true
}

// isEmpty: nil, a zero value, or a chan/map/slice of length 0 (a pointer is judged by what it points to).
func isEmpty(object interface{}) bool {
	if object == nil {
		return true
	}
	value := reflect.ValueOf(object)
	switch value.Kind() {
	case reflect.Chan, reflect.Map, reflect.Slice:
		return value.Len() == 0
	case reflect.Ptr:
		if value.IsNil() {
			return true
		}
		return isEmpty(value.Elem().Interface())
	}
	return reflect.DeepEqual(object, reflect.Zero(value.Type()).Interface())
}

func Empty(t TestingT, object interface{}, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	if !isEmpty(object) {
		return Fail(t, fmt.Sprintf("Should be empty, but was %v", object), msgAndArgs...)
	}
	return true
}

func NotEmpty(t TestingT, object interface{}, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	if isEmpty(object) {
		return Fail(t, fmt.Sprintf("Should NOT be empty, but was %v", object), msgAndArgs...)
	}
	return true
}

func getLen(x interface{}) (ok bool, length int) {
	defer func() {
		if e := recover(); e != nil {
			ok = false
		}
	}()
	return true, reflect.ValueOf(x).Len()
}

func Len(t TestingT, object interface{}, length int, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	ok, l := getLen(object)
	if !ok {
		return Fail(t, fmt.Sprintf("\"%v\" could not be applied builtin len()", object), msgAndArgs...)
	}
	if l != length {
		return Fail(t, fmt.Sprintf("\"%v\" should have %d item(s), but has %d", object, length, l), msgAndArgs...)
	}
	return true
}

// containsElement: substring for strings, key for maps, element (ObjectsAreEqual) for arrays/slices.
func containsElement(list interface{}, element interface{}) (ok, found bool) {
	listValue := reflect.ValueOf(list)
	if reflect.TypeOf(list) == nil {
		return false, false
	}
	defer func() {
		if e := recover(); e != nil {
			ok, found = false, false
		}
	}()
	switch listValue.Kind() {
	case reflect.String:
		return true, strings.Contains(listValue.String(), reflect.ValueOf(element).String())
	case reflect.Map:
		for _, key := range listValue.MapKeys() {
			if ObjectsAreEqual(key.Interface(), element) {
				return true, true
			}
		}
		return true, false
	}
	for i := 0; i < listValue.Len(); i++ {
		if ObjectsAreEqual(listValue.Index(i).Interface(), element) {
			return true, true
		}
	}
	return true, false
}

func Contains(t TestingT, s, contains interface{}, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	ok, found := containsElement(s, contains)
	if !ok {
		return Fail(t, fmt.Sprintf("%#v could not be applied builtin len()", s), msgAndArgs...)
	}
	if !found {
		return Fail(t, fmt.Sprintf("%#v does not contain %#v", s, contains), msgAndArgs...)
	}
	return true
}

func NotContains(t TestingT, s, contains interface{}, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	ok, found := containsElement(s, contains)
	if !ok {
		return Fail(t, fmt.Sprintf("%#v could not be applied builtin len()", s), msgAndArgs...)
	}
	if found {
		return Fail(t, fmt.Sprintf("%#v should not contain %#v", s, contains), msgAndArgs...)
	}
	return true
}

func isList(list interface{}) bool {
	kind := reflect.TypeOf(list).Kind()
	return kind == reflect.Array || kind == reflect.Slice
}

// ElementsMatch: the same elements with the same multiplicities, in any order.
func ElementsMatch(t TestingT, listA, listB interface{}, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	if isEmpty(listA) && isEmpty(listB) {
		return true
	}
	for _, list := range []interface{}{listA, listB} {
		if list == nil || !isList(list) {
			return Fail(t, fmt.Sprintf("%q has an unsupported type %T, expecting array or slice", list, list),
				msgAndArgs...)
		}
	}
	a, b := reflect.ValueOf(listA), reflect.ValueOf(listB)
	visited := make([]bool, b.Len())
	var extraA, extraB []interface{}
	for i := 0; i < a.Len(); i++ {
		element, found := a.Index(i).Interface(), false
		for j := 0; j < b.Len(); j++ {
			if !visited[j] && ObjectsAreEqual(b.Index(j).Interface(), element) {
				visited[j], found = true, true
				break
			}
		}
		if !found {
			extraA = append(extraA, element)
		}
	}
	for j := 0; j < b.Len(); j++ {
		if !visited[j] {
			extraB = append(extraB, b.Index(j).Interface())
		}
	}
	if len(extraA) == 0 && len(extraB) == 0 {
		return true
	}
	return Fail(t, fmt.Sprintf("elements differ\n\nextra elements in list A:\n%#v\n\nextra elements in list B:\n%#v"+
		"\n\nlistA:\n%#v\n\nlistB:\n%#v", extraA, extraB, listA, listB), msgAndArgs...)
}

// toFloat accepts exactly the built-in numeric types and time.Duration, as testify does.
func toFloat(x interface{}) (float64, bool) {
	switch n := x.(type) {
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case float32:
		return float64(n), true
	case float64:
		return n, true
	case time.Duration:
		return float64(n), true
	}
	return 0, false
}

func InDelta(t TestingT, expected, actual interface{}, delta float64, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	af, aok := toFloat(expected)
	bf, bok := toFloat(actual)
	if !aok || !bok {
		return Fail(t, "Parameters must be numerical", msgAndArgs...)
	}
	if math.IsNaN(af) && math.IsNaN(bf) {
		return true
	}
	if math.IsNaN(af) {
		return Fail(t, "Expected must not be NaN", msgAndArgs...)
	}
	if math.IsNaN(bf) {
		return Fail(t, fmt.Sprintf("Expected %v with delta %v, but was NaN", expected, delta), msgAndArgs...)
	}
	dt := af - bf
	if dt < -delta || dt > delta {
		return Fail(t, fmt.Sprintf("Max difference between %v and %v allowed is %v, but difference was %v",
			expected, actual, delta, dt), msgAndArgs...)
	}
	return true
}

// compare orders two values of the same kind: integers, unsigned integers, floats and strings.
func compare(e1, e2 interface{}) (int, bool) {
	v1, v2 := reflect.ValueOf(e1), reflect.ValueOf(e2)
	switch v1.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		a, b := v1.Int(), v2.Int()
		return order(a == b, a > b), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		a, b := v1.Uint(), v2.Uint()
		return order(a == b, a > b), true
	case reflect.Float32, reflect.Float64:
		a, b := v1.Float(), v2.Float()
		return order(a == b, a > b), true
	case reflect.String:
		return strings.Compare(v1.String(), v2.String()), true
	}
	return 0, false
}

func order(equal, greater bool) int {
	if equal {
		return 0
	}
	if greater {
		return 1
	}
	return -1
}

func compareTwo(t TestingT, e1, e2 interface{}, allowed []int, failure string, msgAndArgs []interface{}) bool {
	if reflect.ValueOf(e1).Kind() != reflect.ValueOf(e2).Kind() {
		return Fail(t, "Elements should be the same type", msgAndArgs...)
	}
	result, ok := compare(e1, e2)
	if !ok {
		return Fail(t, fmt.Sprintf("Can not compare type \"%s\"", reflect.TypeOf(e1)), msgAndArgs...)
	}
	for _, a := range allowed {
		if result == a {
			return true
		}
	}
	return Fail(t, fmt.Sprintf(failure, e1, e2), msgAndArgs...)
}

func Greater(t TestingT, e1, e2 interface{}, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	return compareTwo(t, e1, e2, []int{1}, "\"%v\" is not greater than \"%v\"", msgAndArgs)
}

func GreaterOrEqual(t TestingT, e1, e2 interface{}, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	return compareTwo(t, e1, e2, []int{1, 0}, "\"%v\" is not greater than or equal to \"%v\"", msgAndArgs)
}

func Less(t TestingT, e1, e2 interface{}, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	return compareTwo(t, e1, e2, []int{-1}, "\"%v\" is not less than \"%v\"", msgAndArgs)
}

func LessOrEqual(t TestingT, e1, e2 interface{}, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	return compareTwo(t, e1, e2, []int{-1, 0}, "\"%v\" is not less than or equal to \"%v\"", msgAndArgs)
}

func NoError(t TestingT, err error, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	if err != nil {
		return Fail(t, fmt.Sprintf("Received unexpected error:\n%+v", err), msgAndArgs...)
	}
	return true
}

func Error(t TestingT, err error, msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	if err == nil {
		return Fail(t, "An error is expected but got nil.", msgAndArgs...)
	}
	return true
}

func didPanic(f func()) (panicked bool) {
	panicked = true
	defer func() { recover() }()
	f()
	panicked = false
	return
}

func Panics(t TestingT, f func(), msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	if !didPanic(f) {
		return Fail(t, "func should panic", msgAndArgs...)
	}
	return true
}

func NotPanics(t TestingT, f func(), msgAndArgs ...interface{}) bool {
	if h, ok := t.(tHelper); ok {
		h.Helper()
	}
	if didPanic(f) {
		return Fail(t, "func should not panic", msgAndArgs...)
	}
	return true
}
'''

# (name, parameters after t, arguments passed on): each becomes a method of *Assertions as well.
_GO_TESTIFY_METHODS: tuple[tuple[str, str, str], ...] = (
    ("Fail", "failure string", "failure"),
    *((n, "expected, actual interface{}", "expected, actual") for n in ("Equal", "NotEqual", "EqualValues")),
    *((n, "value bool", "value") for n in ("True", "False")),
    *((n, "object interface{}", "object") for n in ("Nil", "NotNil", "Empty", "NotEmpty")),
    ("Len", "object interface{}, length int", "object, length"),
    *((n, "s, contains interface{}", "s, contains") for n in ("Contains", "NotContains")),
    ("ElementsMatch", "listA, listB interface{}", "listA, listB"),
    ("InDelta", "expected, actual interface{}, delta float64", "expected, actual, delta"),
    *((n, "e1, e2 interface{}", "e1, e2") for n in ("Greater", "GreaterOrEqual", "Less", "LessOrEqual")),
    *((n, "err error", "err") for n in ("NoError", "Error")),
    *((n, "f func()", "f") for n in ("Panics", "NotPanics")),
)


def _go_method(name: str, params: str, args: str) -> str:
    return (
        f"\nfunc (a *Assertions) {name}({params}, msgAndArgs ...interface{{}}) bool {{\n"
        "\tif h, ok := a.t.(tHelper); ok {\n\t\th.Helper()\n\t}\n"
        f"\treturn {name}(a.t, {args}, msgAndArgs...)\n}}\n"
    )


GO_TESTIFY = _GO_TESTIFY_FUNCS + "".join(_go_method(*m) for m in _GO_TESTIFY_METHODS)
