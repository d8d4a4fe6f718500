package fedscore.admission_test

import data.fedscore.admission

test_passes if admission.decision.allow == false

test_fails if admission.decision.allow == true

todo_test_skipped if false
