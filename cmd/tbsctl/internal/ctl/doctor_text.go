package ctl

import (
	"fmt"
	"unicode/utf8"

	"github.com/tbschedule/tbschedule-go/strategy"
)

// textDamage says how a text was damaged by a wrong charset on its way
// into the tree, and how sure that is: "" when it looks intact.
//
//   - U+FFFD (the replacement character) or U+001A (the substitute
//     character): a decoder met bytes it could not read and put this
//     instead; the original characters are lost. A problem.
//   - A letter U+00C2..U+00F4 followed by U+0080..U+00BF: UTF-8 bytes read
//     as Latin-1 ("æ\u009d\u00ad" for "杭"). Most likely damage, but such
//     text can be genuine, so a warning.
//
// It is pure; pos is the rune index where the damage starts.
func textDamage(s string) (damage string, pos int, problem bool) {
	prev := rune(-1)
	i := 0
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			return "U+FFFD (the replacement character)", i, true
		case r == 0x1A:
			return "U+001A (the substitute character)", i, true
		case prev >= 0xC2 && prev <= 0xF4 && r >= 0x80 && r <= 0xBF:
			return "UTF-8 read as Latin-1", i - 1, false
		}
		prev = r
		i++
	}
	return "", 0, false
}

// textFindings reports the damaged texts of the configuration and of the
// items: parameters of task types, strategies, item definitions and items,
// and the items' deal descriptions.
func textFindings(root string, v strategy.RuntimeView) []finding {
	var out []finding
	check := func(node, field, text, fix string) {
		damage, pos, problem := textDamage(text)
		if damage == "" {
			return
		}
		sev := sevWarning
		if problem {
			sev = sevProblem
		}
		out = append(out, finding{Severity: sev, Check: "damaged text", Node: node,
			Detail: fmt.Sprintf("%s %q holds %s at character %d: it was decoded in the wrong charset", field, text, damage, pos),
			Fix:    fix})
	}
	for _, tv := range v.TaskTypes {
		node := root + "/baseTaskType/" + tv.BaseTaskType
		fix := fmt.Sprintf("re-enter the text (tbsctl get taskType %s -o yaml > t.yaml; edit; tbsctl apply -f t.yaml), or import the original export again with the right --encoding and --force", tv.BaseTaskType)
		check(node, "taskParameter", tv.TaskParameter, fix)
		for i, def := range tv.TaskItems {
			check(node, fmt.Sprintf("taskItems[%d]", i), def, fix)
		}
		for _, rt := range tv.Runtimes {
			for _, it := range rt.Items.Items {
				item := root + "/baseTaskType/" + tv.BaseTaskType + "/" + rt.Name + "/taskItem/" + string(it.ID)
				check(item, "parameter", it.Parameter, "fix taskItems of the task type (see its own finding, if any); the leader rewrites the item's parameter from it")
				check(item, "deal_desc", it.DealDesc, "the deal wrote it: look at how it builds the text")
			}
		}
	}
	for _, s := range v.Strategies {
		check(root+"/strategy/"+s.StrategyName, "taskParameter", s.TaskParameter,
			fmt.Sprintf("re-enter the text (tbsctl get strategy %s -o yaml > s.yaml; edit; tbsctl apply -f s.yaml)", s.StrategyName))
	}
	return out
}
