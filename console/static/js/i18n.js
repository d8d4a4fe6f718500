// Interface language (Simplified Chinese, English) and Intl formatting of
// numbers and dates in it.
const KEY = 'fedscore.lang';

const en = {
  'app.title': 'fedscore console', 'app.footer': 'Keys stay in this console process; the page receives only decrypted aggregates.',
  'nav.analyst': 'Analyst', 'nav.regulator': 'Regulator', 'nav.operator': 'Operator', 'lang.other': '中文',
  'yes': 'yes', 'no': 'no',
  'analyst.builder': 'Joint query', 'spec.purpose': 'Purpose', 'spec.pipia': 'Impact assessment (PIPIA)', 'spec.none': 'none',
  'spec.min_partners': 'Min. partners', 'spec.epsilon': 'ε (differential privacy)', 'spec.no_noise': 'no noise', 'spec.decimals': 'Decimals of sums', 'spec.decimals_auto': 'auto',
  'spec.group_by': 'Group by', 'spec.filter': 'Filter', 'spec.metrics': 'Metrics', 'spec.bins': 'bins', 'spec.values': 'values', 'spec.remove': 'remove',
  'spec.clip': 'clip', 'spec.load': 'Load spec…', 'spec.save': 'Save YAML', 'spec.run': 'Sign and run', 'spec.check': 'Check',
  'spec.no_querier': 'This console has no querier credential: queries can be built and checked, not run.',
  'spec.ok': 'The spec is valid and fits the catalogue: {cells} cells.', 'spec.force': 'Submit anyway and let the partners\u2019 policy decide',
  'spec.yaml': 'What will be signed (the canonical form of this YAML)',
  'problem.invalid': 'invalid', 'problem.schema': 'schema', 'problem.refused': 'policy would refuse',
  'op.eq': '=', 'op.ne': '≠', 'op.lt': '<', 'op.le': '≤', 'op.gt': '>', 'op.ge': '≥', 'op.in': 'in', 'op.not_in': 'not in', 'op.between': 'between',
  'metric.count': 'count', 'metric.sum': 'sum', 'metric.mean': 'mean', 'metric.histogram': 'histogram',
  'cat.title': 'Catalogue', 'cat.revision': 'policy revision {rev}', 'cat.min_partners': 'Minimum partners', 'cat.min_cell': 'Minimum cell size',
  'cat.dp': 'Differential privacy', 'cat.required': 'required', 'cat.optional': 'optional', 'cat.max_eps': 'Max. ε per query',
  'cat.daily_eps': 'Daily ε per purpose and segmentation', 'cat.min_age': 'Children excluded under', 'cat.releases_day': 'Releases per purpose per day',
  'cat.cross_border': 'Cross-border provision allowed', 'cat.assume_consent': 'Consent assumed where not recorded',
  'cat.columns_for': 'Columns for {purpose}', 'cat.consent_col': 'consent column {col}', 'cat.column': 'Column', 'cat.type': 'Type', 'cat.unit': 'Unit',
  'cat.class': 'Class', 'cat.requires': 'Requires', 'cat.shape': 'Typical bins / values', 'cat.unpublished': 'unpublished', 'cat.sensitive': 'sensitive',
  'cat.legal_basis': 'legal basis', 'cat.requires_pipia': 'needs PIPIA', 'cat.automated': 'automated decision', 'cat.licensed': 'licensed channel only',
  'cat.typical_bins': 'typical bins', 'cat.values': 'values', 'cat.pipias': 'Approved PIPIAs', 'cat.columns': 'Allowed columns', 'cat.retention': 'retention {days} days',
  'req.pipia': 'approved PIPIA (PIPL Art. 55)', 'req.sensitive_consent': 'separate consent (PIPL Art. 29)',
  'type.numeric': 'numeric', 'type.categorical': 'categorical', 'type.boolean': 'boolean', 'type.date': 'date',
  'run.none': 'Run a query to see its progress and result here.', 'run.title': 'Query', 'run.partner': 'Partner', 'run.attached': 'Attached',
  'run.refused': 'refused', 'run.refused_by': 'Refused by {node}', 'run.refused_hint': 'Nothing was decrypted. Each reason names the rule and the article it enforces.',
  'phase.input_1': 'Admitted, counts sent', 'phase.counts_opened': 'Counts opened', 'phase.input_2': 'Masked values sent', 'phase.key_switch_share': 'Key-switch share',
  'state.running': 'running', 'state.done': 'done', 'state.refused': 'refused', 'state.failed': 'failed',
  'result.table': 'Result', 'result.plaintext_match': 'equals the plaintext computation', 'result.plaintext_differs': 'differs from plaintext',
  'result.withheld_mark': 'withheld', 'result.withheld_cell': 'withheld by the release gate',
  'result.withheld': '{n} values ({cells} cells) withheld by every partner\u2019s release gate: cells with fewer than {k} records, and cells that would let them be derived from totals (complementary suppression). The querier never receives them.',
  'result.noise': 'Differential privacy: ε = {eps} in total, {block} per block; every partner added its share of discrete Laplace noise.',
  'result.noise_block': '{what}: scale {scale} (sensitivity {sens}); 95 % of values lie within ±{bound} of the exact value.',
  'result.no_noise': 'No differential-privacy noise (ε not set): values are exact.',
  'result.csv': 'Export CSV', 'result.json': 'Export JSON', 'result.receipts': 'Receipts', 'result.decision': 'Decision', 'result.revision': 'Policy revision', 'result.timings': 'Timings',
  'timing.sign': 'sign', 'timing.counts': 'phase 1: counts', 'timing.release_gate': 'release gate', 'timing.inputs': 'phase 2: values', 'timing.key_switch': 'key switch',
  'timing.total': 'coordinator total', 'timing.decrypt': 'decrypt', 'timing.end_to_end': 'end to end', 'timing.combine': 'combine',
  'chart.title': 'Charts', 'chart.heatmap': 'Heat map', 'chart.bars': 'Bars', 'chart.hist': 'Histograms per segment', 'chart.metric': 'Metric',
  'chart.withheld_legend': 'Hatched grey: withheld by the release gate.',
  'history.title': 'History', 'history.empty': 'No queries yet.', 'history.time': 'Time', 'history.state': 'State', 'history.query': 'Query', 'history.receipts': 'Receipts',
  'bundle.title': 'Policy bundles', 'bundle.revision': 'Revision', 'bundle.source': 'Source', 'bundle.signature': 'Signature', 'bundle.open': 'Open',
  'bundle.upload': 'Open a bundle file…', 'bundle.upload_hint': 'A signed .tar.gz from fedscore policy sign or opa build --signing-key; it is checked against the regulator key.',
  'bundle.verified': 'signature verified', 'bundle.unsigned': 'unsigned', 'bundle.not_verified': 'NOT verified', 'bundle.verified_by': 'Signature verified: ES256 under key id {key}; no file was changed, added or removed.',
  'bundle.detail': 'Bundle {rev}', 'bundle.manifest': 'Manifest', 'bundle.digest': 'Digest', 'bundle.key_id': 'Key id', 'bundle.roots': 'Roots', 'bundle.files': 'Files',
  'bundle.privacy': 'Privacy settings', 'bundle.tests': 'Tests', 'bundle.run_tests': 'Run the bundle\u2019s tests', 'bundle.testing': 'running…',
  'bundle.tests_hint': 'Runs every *_test.rego with OPA\u2019s test runner, as fedscore policy test does.', 'bundle.tests_summary': '{passed} passed, {failed} failed, {skipped} skipped',
  'bundle.purposes': 'Purposes', 'bundle.sensitive_note': '(amber: sensitive, needs PIPIA and separate consent)', 'bundle.rules': 'Rules ({n})',
  'source.current': 'the federation\u2019s current bundle', 'source.builtin': 'built into fedscore', 'source.upload': 'uploaded',
  'rule.code': 'Code', 'rule.article': 'Article', 'rule.decision': 'Decision', 'rule.what': 'What it enforces', 'rule.kind_deny': 'refuses the query', 'rule.kind_condition': 'excludes records', 'rule.test': 'Test',
  'diff.title': 'Compare two revisions', 'diff.compare': 'Compare', 'diff.hint': 'Pick two bundles; rules are compared by code, settings by path.',
  'diff.none': '{from} and {to} have the same rules and settings.', 'diff.summary': '{from} → {to}: {rules} rules, {settings} settings, {files} files differ.',
  'diff.rules': 'Rules', 'diff.settings': 'Settings', 'diff.files': 'Files', 'diff.change': 'Change', 'diff.setting': 'Setting', 'diff.old': 'Before', 'diff.new': 'After', 'diff.file': 'File', 'diff.source': 'Rego before / after',
  'change.added': 'added', 'change.removed': 'removed', 'change.changed': 'changed',
  'audit.title': 'Audit log', 'audit.node_logs': 'Node logs:', 'audit.log_file': 'Log', 'audit.archive_file': 'Query archive (optional)', 'audit.verify': 'Verify',
  'audit.hint': 'Verify a node\u2019s audit.log: the hash chain, every checkpoint signature against the federation CA, and the first bad entry if anything was edited, deleted or reordered.',
  'audit.ok': '{source}: chain intact, {entries} entries, {cps} signed checkpoints.', 'audit.signed_by': 'Checkpoints signed by {signer}.', 'audit.unsigned': 'No checkpoint signature verified.',
  'audit.after_cp': '{n} entries after the last checkpoint are not yet covered by a signature.', 'audit.bad': '{source} does NOT verify',
  'audit.first_bad': 'First bad entry: line {line} (seq {seq}): {problem}', 'audit.all': 'all', 'audit.kind': 'Kind', 'audit.since': 'From', 'audit.until': 'To',
  'audit.no_archive': 'Without the node\u2019s query archive the entries carry no purpose.', 'audit.count': '{n} entries of {q} queries', 'audit.time': 'Time',
  'audit.query': 'Query', 'audit.result': 'Result', 'audit.reasons': 'Reasons',
  'audit.kind_edited': 'A record was edited.', 'audit.kind_deleted': 'A record was deleted.', 'audit.kind_reordered': 'Records were reordered.', 'audit.kind_truncated': 'The log was truncated.',
  'audit.kind_torn': 'The last line is torn.', 'audit.kind_bad_signature': 'A checkpoint signature does not verify.', 'audit.kind_malformed': 'A record is malformed.',
  'subject.title': 'A data subject\u2019s question', 'subject.hint': '\u201cWhich joint queries used my data?\u201d — answered from the node\u2019s own archive by re-evaluating each query on this one record.',
  'subject.node': 'Node', 'subject.upload': 'upload files…', 'subject.id': 'Customer id', 'subject.data_file': 'Records (CSV)', 'subject.ask': 'Answer',
  'subject.summary': '{used} of {n} admitted queries used this record.', 'subject.used': 'Used', 'subject.cell': 'Cell or reason',
  'op.federation': 'Federation', 'op.ready': 'ready', 'op.not_ready': 'not ready', 'op.epoch': 'Epoch', 'op.params': 'Parameters', 'op.members_n': 'Members',
  'op.attached_n': 'Attached', 'op.pk': 'Collective key (SHA-256)', 'op.members': 'Members', 'op.further': 'Further status',
  'op.recent': 'This console\u2019s queries', 'op.recent_hint': 'Queries run from this console, with outcome and duration.', 'op.partners': 'Partners', 'op.duration': 'Duration',
  'op.serving': 'serving', 'op.not_serving': 'not serving', 'op.serving_hint': 'The coordinator admits queries: the epoch\u2019s quorum is attached with its key.',
  'op.not_serving_hint': 'The coordinator admits no query now: no epoch yet, a key generation running, or fewer members attached with the key than the epoch needs.',
  'op.quorum': 'Quorum', 'op.quorum_v': '{q} of {n} members', 'op.created': 'Created', 'op.keygen': 'Key generation', 'op.keygen_running': 'running',
  'op.keygen_error': 'Last key generation failed', 'op.since': 'Attached since', 'op.last_seen': 'Last seen', 'op.epoch_key': 'Epoch key',
  'op.key_current': 'current', 'op.key_other': 'other epoch', 'op.bundle': 'Policy bundle', 'op.expires': 'expires {at}', 'op.share': 'Key share',
  'op.ago_s': '{n} s ago', 'op.ago_m': '{n} min ago', 'op.ago_h': '{n} h ago',
  'op.coord_recent': 'Recent queries at the coordinator', 'op.coord_recent_hint': 'The coordinator\u2019s record of the latest queries this credential may see, with phases and refusals.',
  'op.outcome': 'Outcome', 'op.refusals': 'Refusals', 'op.phases': 'Phases', 'op.runs': '{n} runs',
  'op.outcome_answered': 'answered', 'op.outcome_refused': 'refused', 'op.outcome_failed': 'failed', 'op.outcome_timeout': 'timed out', 'op.outcome_rejected': 'rejected',
  'op.phase_counts': 'counts', 'op.phase_release_gate': 'release gate', 'op.phase_inputs': 'inputs', 'op.phase_key_switch': 'key switch', 'op.phase_combine': 'combine',
};

const zh = {
  'app.title': 'fedscore 控制台', 'app.footer': '密钥只保存在本控制台进程中；页面只接收解密后的聚合结果。',
  'nav.analyst': '分析师', 'nav.regulator': '监管方', 'nav.operator': '运营方', 'lang.other': 'English',
  'yes': '是', 'no': '否',
  'analyst.builder': '联合查询', 'spec.purpose': '处理目的', 'spec.pipia': '个人信息保护影响评估（PIPIA）', 'spec.none': '无',
  'spec.min_partners': '最少参与方', 'spec.epsilon': 'ε（差分隐私）', 'spec.no_noise': '不加噪', 'spec.decimals': '求和小数位', 'spec.decimals_auto': '自动',
  'spec.group_by': '分组', 'spec.filter': '筛选', 'spec.metrics': '指标', 'spec.bins': '区间', 'spec.values': '取值', 'spec.remove': '删除',
  'spec.clip': '截断', 'spec.load': '载入查询…', 'spec.save': '保存 YAML', 'spec.run': '签名并执行', 'spec.check': '检查',
  'spec.no_querier': '本控制台没有查询方证书：可以构建和检查查询，但不能执行。',
  'spec.ok': '查询有效，符合目录：共 {cells} 个单元格。', 'spec.force': '仍然提交，由各参与方的策略决定',
  'spec.yaml': '将要签名的内容（此 YAML 的规范形式）',
  'problem.invalid': '无效', 'problem.schema': '字段目录', 'problem.refused': '策略将拒绝',
  'op.eq': '=', 'op.ne': '≠', 'op.lt': '<', 'op.le': '≤', 'op.gt': '>', 'op.ge': '≥', 'op.in': '属于', 'op.not_in': '不属于', 'op.between': '介于',
  'metric.count': '计数', 'metric.sum': '求和', 'metric.mean': '均值', 'metric.histogram': '直方图',
  'cat.title': '数据目录', 'cat.revision': '策略版本 {rev}', 'cat.min_partners': '最少参与方', 'cat.min_cell': '最小单元格规模',
  'cat.dp': '差分隐私', 'cat.required': '必须', 'cat.optional': '可选', 'cat.max_eps': '单次查询 ε 上限',
  'cat.daily_eps': '每目的每分组每日 ε', 'cat.min_age': '排除年龄低于', 'cat.releases_day': '每目的每日发布次数',
  'cat.cross_border': '允许跨境提供', 'cat.assume_consent': '无记录时视为已同意',
  'cat.columns_for': '{purpose} 可用字段', 'cat.consent_col': '同意字段 {col}', 'cat.column': '字段', 'cat.type': '类型', 'cat.unit': '单位',
  'cat.class': '级别', 'cat.requires': '前提', 'cat.shape': '常用区间 / 取值', 'cat.unpublished': '未公布', 'cat.sensitive': '敏感',
  'cat.legal_basis': '合法性基础', 'cat.requires_pipia': '需要 PIPIA', 'cat.automated': '自动化决策', 'cat.licensed': '仅限持牌征信渠道',
  'cat.typical_bins': '常用区间', 'cat.values': '取值', 'cat.pipias': '已批准的 PIPIA', 'cat.columns': '允许的字段', 'cat.retention': '保存 {days} 天',
  'req.pipia': '已批准的 PIPIA（《个人信息保护法》第五十五条）', 'req.sensitive_consent': '单独同意（第二十九条）',
  'type.numeric': '数值', 'type.categorical': '分类', 'type.boolean': '布尔', 'type.date': '日期',
  'run.none': '执行查询后，这里显示进度和结果。', 'run.title': '查询', 'run.partner': '参与方', 'run.attached': '已连接',
  'run.refused': '已拒绝', 'run.refused_by': '{node} 拒绝了查询', 'run.refused_hint': '没有任何数据被解密。每条理由都注明了规则及其依据的条款。',
  'phase.input_1': '已准入，计数已发送', 'phase.counts_opened': '计数已解密', 'phase.input_2': '掩码值已发送', 'phase.key_switch_share': '密钥转换份额',
  'state.running': '执行中', 'state.done': '完成', 'state.refused': '被拒绝', 'state.failed': '失败',
  'result.table': '结果', 'result.plaintext_match': '与明文计算一致', 'result.plaintext_differs': '与明文计算不一致',
  'result.withheld_mark': '已屏蔽', 'result.withheld_cell': '被发布闸门屏蔽',
  'result.withheld': '{n} 个值（{cells} 个单元格）被每个参与方的发布闸门屏蔽：少于 {k} 条记录的单元格，以及可由合计推算出它们的单元格（补充屏蔽）。查询方永远收不到这些值。',
  'result.noise': '差分隐私：总 ε = {eps}，每个分块 {block}；每个参与方都加入了自己那一份离散拉普拉斯噪声。',
  'result.noise_block': '{what}：尺度 {scale}（敏感度 {sens}）；95% 的值与精确值相差不超过 ±{bound}。',
  'result.no_noise': '未加差分隐私噪声（未设置 ε）：数值是精确的。',
  'result.csv': '导出 CSV', 'result.json': '导出 JSON', 'result.receipts': '回执', 'result.decision': '决策编号', 'result.revision': '策略版本', 'result.timings': '耗时',
  'timing.sign': '签名', 'timing.counts': '第一阶段：计数', 'timing.release_gate': '发布闸门', 'timing.inputs': '第二阶段：数值', 'timing.key_switch': '密钥转换',
  'timing.total': '协调方合计', 'timing.decrypt': '解密', 'timing.end_to_end': '端到端', 'timing.combine': '合并',
  'chart.title': '图表', 'chart.heatmap': '热力图', 'chart.bars': '柱状图', 'chart.hist': '分组直方图', 'chart.metric': '指标',
  'chart.withheld_legend': '灰色斜线：被发布闸门屏蔽。',
  'history.title': '历史', 'history.empty': '还没有查询。', 'history.time': '时间', 'history.state': '状态', 'history.query': '查询', 'history.receipts': '回执',
  'bundle.title': '策略包', 'bundle.revision': '版本', 'bundle.source': '来源', 'bundle.signature': '签名', 'bundle.open': '打开',
  'bundle.upload': '打开策略包文件…', 'bundle.upload_hint': '由 fedscore policy sign 或 opa build --signing-key 签名的 .tar.gz；将用监管方公钥验证。',
  'bundle.verified': '签名已验证', 'bundle.unsigned': '未签名', 'bundle.not_verified': '未通过验证', 'bundle.verified_by': '签名已验证：ES256，密钥编号 {key}；没有文件被修改、增加或删除。',
  'bundle.detail': '策略包 {rev}', 'bundle.manifest': '清单', 'bundle.digest': '摘要', 'bundle.key_id': '密钥编号', 'bundle.roots': '根', 'bundle.files': '文件',
  'bundle.privacy': '隐私设置', 'bundle.tests': '测试', 'bundle.run_tests': '运行策略包测试', 'bundle.testing': '运行中…',
  'bundle.tests_hint': '用 OPA 测试器运行所有 *_test.rego，与 fedscore policy test 相同。', 'bundle.tests_summary': '通过 {passed}，失败 {failed}，跳过 {skipped}',
  'bundle.purposes': '处理目的', 'bundle.sensitive_note': '（琥珀色：敏感个人信息，需要 PIPIA 和单独同意）', 'bundle.rules': '规则（{n}）',
  'source.current': '联邦当前策略包', 'source.builtin': 'fedscore 内置', 'source.upload': '已上传',
  'rule.code': '代码', 'rule.article': '条款', 'rule.decision': '决策', 'rule.what': '规则内容', 'rule.kind_deny': '拒绝查询', 'rule.kind_condition': '排除记录', 'rule.test': '测试',
  'diff.title': '比较两个版本', 'diff.compare': '比较', 'diff.hint': '选择两个策略包；规则按代码比较，设置按路径比较。',
  'diff.none': '{from} 与 {to} 的规则和设置相同。', 'diff.summary': '{from} → {to}：{rules} 条规则、{settings} 项设置、{files} 个文件不同。',
  'diff.rules': '规则', 'diff.settings': '设置', 'diff.files': '文件', 'diff.change': '变化', 'diff.setting': '设置', 'diff.old': '之前', 'diff.new': '之后', 'diff.file': '文件', 'diff.source': '修改前 / 修改后的 Rego',
  'change.added': '新增', 'change.removed': '删除', 'change.changed': '修改',
  'audit.title': '审计日志', 'audit.node_logs': '节点日志：', 'audit.log_file': '日志', 'audit.archive_file': '查询存档（可选）', 'audit.verify': '验证',
  'audit.hint': '验证节点的 audit.log：哈希链、每个检查点签名（对照联邦 CA），若有记录被修改、删除或重排，指出第一条错误记录。',
  'audit.ok': '{source}：哈希链完整，{entries} 条记录，{cps} 个已签名检查点。', 'audit.signed_by': '检查点签名者：{signer}。', 'audit.unsigned': '没有验证任何检查点签名。',
  'audit.after_cp': '最后一个检查点之后有 {n} 条记录尚未被签名覆盖。', 'audit.bad': '{source} 未通过验证',
  'audit.first_bad': '第一条错误记录：第 {line} 行（序号 {seq}）：{problem}', 'audit.all': '全部', 'audit.kind': '类型', 'audit.since': '起', 'audit.until': '止',
  'audit.no_archive': '没有节点的查询存档时，记录中不含处理目的。', 'audit.count': '{q} 个查询的 {n} 条记录', 'audit.time': '时间',
  'audit.query': '查询', 'audit.result': '结果', 'audit.reasons': '理由',
  'audit.kind_edited': '有记录被修改。', 'audit.kind_deleted': '有记录被删除。', 'audit.kind_reordered': '记录顺序被调换。', 'audit.kind_truncated': '日志被截断。',
  'audit.kind_torn': '最后一行不完整。', 'audit.kind_bad_signature': '检查点签名验证失败。', 'audit.kind_malformed': '记录格式错误。',
  'subject.title': '个人信息主体的查询', 'subject.hint': '“哪些联合查询使用了我的数据？”——由节点根据自身存档，对这一条记录逐一重新评估每个查询来回答。',
  'subject.node': '节点', 'subject.upload': '上传文件…', 'subject.id': '客户编号', 'subject.data_file': '记录（CSV）', 'subject.ask': '回答',
  'subject.summary': '{n} 个已准入查询中有 {used} 个使用了这条记录。', 'subject.used': '已使用', 'subject.cell': '单元格或原因',
  'op.federation': '联邦', 'op.ready': '就绪', 'op.not_ready': '未就绪', 'op.epoch': '密钥周期', 'op.params': '参数', 'op.members_n': '成员',
  'op.attached_n': '已连接', 'op.pk': '集体公钥（SHA-256）', 'op.members': '成员', 'op.further': '其他状态',
  'op.recent': '本控制台的查询', 'op.recent_hint': '从本控制台执行的查询，含结果与耗时。', 'op.partners': '参与方', 'op.duration': '耗时',
  'op.serving': '可服务', 'op.not_serving': '不可服务', 'op.serving_hint': '协调方可受理查询：本密钥周期所需数量的成员已连接并持有密钥。',
  'op.not_serving_hint': '协调方当前不受理查询：尚无密钥周期、正在生成密钥，或持有密钥的已连接成员少于所需数量。',
  'op.quorum': '法定人数', 'op.quorum_v': '{n} 个成员中的 {q} 个', 'op.created': '创建时间', 'op.keygen': '密钥生成', 'op.keygen_running': '进行中',
  'op.keygen_error': '上次密钥生成失败', 'op.since': '连接时间', 'op.last_seen': '最后在线', 'op.epoch_key': '周期密钥',
  'op.key_current': '当前', 'op.key_other': '其他周期', 'op.bundle': '策略包', 'op.expires': '{at} 到期', 'op.share': '密钥分片',
  'op.ago_s': '{n} 秒前', 'op.ago_m': '{n} 分钟前', 'op.ago_h': '{n} 小时前',
  'op.coord_recent': '协调方的近期查询', 'op.coord_recent_hint': '协调方记录的、本凭证可查看的最新查询，含各阶段耗时与拒绝原因。',
  'op.outcome': '结果', 'op.refusals': '拒绝', 'op.phases': '阶段', 'op.runs': '{n} 次运行',
  'op.outcome_answered': '已答复', 'op.outcome_refused': '被拒绝', 'op.outcome_failed': '失败', 'op.outcome_timeout': '超时', 'op.outcome_rejected': '被驳回',
  'op.phase_counts': '计数', 'op.phase_release_gate': '发布闸门', 'op.phase_inputs': '输入', 'op.phase_key_switch': '密钥切换', 'op.phase_combine': '合并',
};

const dicts = { en, 'zh-CN': zh };
let current = localStorage.getItem(KEY) === 'zh-CN' ? 'zh-CN' : 'en';

export function lang() { return current; }

export function setLang(l) {
  current = dicts[l] ? l : 'en';
  localStorage.setItem(KEY, current);
  document.documentElement.lang = current;
  applyStatic();
}

// t translates key, filling {name} placeholders; fallback is used for keys
// no dictionary has (new status fields, say).
export function t(key, vars = {}, fallback) {
  let s = dicts[current][key] ?? en[key] ?? fallback ?? key;
  for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, v);
  return s;
}

export function num(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  const opts = digits === undefined ? { maximumFractionDigits: 6 } : { minimumFractionDigits: digits, maximumFractionDigits: digits };
  return new Intl.NumberFormat(current, opts).format(v);
}

export function dateTime(v) {
  if (!v) return '';
  return new Intl.DateTimeFormat(current, { dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(v));
}

export function applyStatic() {
  document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.title = t('app.title');
  const sw = document.getElementById('lang-switch');
  if (sw) sw.textContent = t('lang.other');
}
