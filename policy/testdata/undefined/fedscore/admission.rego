package fedscore.admission
