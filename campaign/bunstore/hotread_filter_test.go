package bunstore

import (
	"reflect"
	"testing"

	"github.com/engine-rules-sp/campaigns/campaign"
)

// The list takes its prepared (hot) path only for a page without filters. Every exported
// field of Filter is either paging or a filter; setting any filter must leave the hot path, so
// that a filter added later cannot be ignored silently.
func TestUnfilteredKnowsEveryFilter(t *testing.T) {
	paging := map[string]bool{"Now": true, "Sort": true, "Desc": true, "Limit": true, "After": true}
	assertUnfiltered := func(f campaign.Filter, want bool, field string) {
		t.Helper()
		if got := unfiltered(f); got != want {
			t.Errorf("Filter.%s set: unfiltered() = %v, want %v", field, got, want)
		}
	}
	assertUnfiltered(campaign.Filter{}, true, "nothing")
	typ := reflect.TypeOf(campaign.Filter{})
	for i := 0; i < typ.NumField(); i++ {
		sf := typ.Field(i)
		if !sf.IsExported() {
			continue
		}
		var f campaign.Filter
		v := reflect.ValueOf(&f).Elem().Field(i)
		switch v.Kind() {
		case reflect.Slice:
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		case reflect.Pointer:
			v.Set(reflect.New(v.Type().Elem()))
		case reflect.String:
			v.SetString("x")
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Int:
			v.SetInt(1)
		case reflect.Struct:
			continue // Now (time.Time): paging context, not a filter
		default:
			t.Fatalf("Filter.%s: kind %s not covered by this test", sf.Name, v.Kind())
		}
		assertUnfiltered(f, paging[sf.Name], sf.Name)
	}
}
