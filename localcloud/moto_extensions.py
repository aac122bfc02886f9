"""The one place where Model Medic extends moto, each extension documented with why.

moto answers most of what the service needs (docs/aws-behaviours.md, "moto gaps"). Where it
differs from AWS in a way that would make a test prove nothing, the gap is filled here and
nowhere else, for the tests and the local cloud alike.

* `sagemaker_update_endpoint`: moto does not implement `UpdateEndpoint` (docs/aws-behaviours.md,
  "moto gaps").
  The extension deploys the new endpoint config: the endpoint keeps its name and takes the
  config's variants. `RetainAllVariantProperties` "defaults to false": without it, counts
  and weights reset to the config's `InitialInstanceCount`/`InitialVariantWeight`; with it,
  same-named variants keep theirs (botocore sagemaker service-2.json, UpdateEndpointInput).
  `ExcludeRetainedVariantProperties` (with RetainAllVariantProperties true) names the
  properties that come from the new config instead: `DesiredInstanceCount` "overrides the
  existing variant instance counts using the InitialInstanceCount values", `DesiredWeight`
  the weights from InitialVariantWeight, and `DataCaptureConfig` is "(Not currently
  supported.)" (API reference, VariantProperty): accepted, it changes nothing here. Without
  RetainAllVariantProperties the list changes nothing (everything is the config's already).
  Another VariantPropertyType is rejected (ValidationException, our message). A variant the
  endpoint does not have yet takes the config's Initial* values; a variant the new config
  leaves out is gone once the update is done. "If the update would change the instance
  type for any model that is a target for auto scaling, the update fails ... If you are
  trying to update the endpoint by calling the UpdateEndpoint API, the call fails", and
  deregistering first is needed to remove an auto-scaled variant as well (SageMaker
  Developer Guide, "Update endpoints that use auto scaling"); changing only the model of an
  auto-scaled variant is allowed (same page). So an UpdateEndpoint that removes a variant
  with a registered scalable target (namespace sagemaker, `endpoint/<e>/variant/<v>`,
  `sagemaker:variant:DesiredInstanceCount`) or changes its instance type fails in the call
  with ValidationException (`SCALED_VARIANT_MESSAGE`: AWS's wording is not documented) and
  changes nothing. UpdateEndpointWeightsAndCapacities on an auto-scaled variant is left
  allowed: AWS documents no such check (the same page tells you to call it to raise counts
  during an update; docs/aws-behaviours.md, "Application Auto Scaling": the scaling policy may
  undo a manual count).
  The update takes time like every other endpoint change (`endpoint_updates_take_time`),
  and it can be told to fail (`fail_next_update`, below). Once it has succeeded the endpoint
  also takes the new config's data capture, shadow variants and async inference config
  (`_config_settings`); until then, and after a failure, DescribeEndpoint shows the old
  config's: its `DataCaptureConfig` is "the currently active data capture configuration used
  by your Endpoint" (service-2.json, DescribeEndpointOutput). moto kept the first config's.
* `endpoint_updates_take_time`: in AWS, UpdateEndpoint, UpdateEndpointWeightsAndCapacities
  (and a RegisterScalableTarget that moves a variant's count) set the endpoint `Updating`
  and only later `InService`, and "any further update while `Updating` is rejected"
  (docs/aws-behaviours.md, "SageMaker APIs"; service-2.json:
  UpdateEndpoint/UpdateEndpointWeightsAndCapacities documentation and the `EndpointStatus`
  enum). moto finishes every change at once, so "wait for InService", "skip while Updating"
  and "check the config after the update" could never be seen. Here every change is
  `Updating` for `set_update_seconds(s)` of simulated time (`moto_now()`), settled lazily
  whenever an endpoint is described, listed, updated, deleted or scaled. Meanwhile:
  - DescribeEndpoint shows each variant's CurrentInstanceCount/CurrentWeight as before
    and DesiredInstanceCount/DesiredWeight as requested (ProductionVariantSummary: the
    Desired* fields are "requested in this deployment"); they become current at the end.
  - An UpdateEndpoint keeps `EndpointConfigName` on the old config and names the new one
    in `PendingDeploymentSummary` ("the summary of an in-progress deployment ... only
    returned when the endpoint is creating or updating with a new endpoint
    configuration", service-2.json DescribeEndpointOutput); at the end the endpoint takes
    the new config and the summary disappears.
  - UpdateEndpoint, UpdateEndpointWeightsAndCapacities and DeleteEndpoint are rejected
    with `ValidationException: Cannot update in-progress endpoint "<arn>".`, AWS's
    wording as quoted in public SDK stubs and operators' logs (not in the API reference).
  The duration defaults to 0 (existing tests and the local cloud's default deploy assume
  instant updates): a change with 0 seconds completes inside the call, whatever the clock
  says. Tests that want time to pass call `set_update_seconds`; the local cloud starts
  the server with env var MODEL_MEDIC_MOTO_UPDATE_SECONDS or calls
  `LocalCloud.set_update_seconds` (route below).
* `fail_next_update(endpoint, reason)`: the next UpdateEndpoint of that endpoint fails the
  way a blue/green deployment with auto-rollback does (docs/aws-behaviours.md,
  "UpdateEndpoint semantics": "A failed blue/green update rolls back on its own and the
  endpoint returns to `InService` on the *old* config"): `Updating` for the update duration,
  then `InService` on the OLD config with the old counts and weights, and `FailureReason`
  set. service-2.json documents `FailureReason` for `Failed` endpoints; keeping it after a
  rollback is how an action can be told why, and is cleared by the next update. Intermediate
  `RollingBack` is not shown.
* `lag_next_update(endpoint, reads, status)`: AWS sets an endpoint `Updating` "when it
  receives the request" (UpdateEndpoint, UpdateEndpointWeightsAndCapacities), but does not say
  how soon DescribeEndpoint shows it (docs/aws-behaviours.md, "SageMaker APIs"); moto shows
  every change at once. After the next change of that endpoint (UpdateEndpoint,
  UpdateEndpointWeightsAndCapacities, a RegisterScalableTarget that moves its count), its next
  `reads` DescribeEndpoint answers show it as it was before the call
  (its config and variants), with `status`: `InService` is AWS not having started yet,
  `Updating` the values asked not shown yet. What the change does is not altered.
* `one_variant_capacity_per_call`: UpdateEndpointWeightsAndCapacities "updates variant
  weight of one or more variants ... or capacity of one variant" (service-2.json); moto
  accepts counts for several variants in one call. A DesiredInstanceCount for more than
  one variant is rejected with ValidationException (the message is ours: AWS's exact
  wording is not documented); weights for several variants stay allowed.
* `scalable_target_range_moves_capacity`: RegisterScalableTarget "changes the resource's
  current capacity to a value that is inside of this range" and "If the specified
  resource is not active in the target service, this operation does not change the
  resource's current capacity" (Application Auto Scaling API reference,
  RegisterScalableTarget). For a SageMaker variant (`ServiceNamespace` sagemaker,
  `ResourceId` endpoint/<e>/variant/<v>, `sagemaker:variant:DesiredInstanceCount`) whose
  count is outside the new range, the variant is scaled into it and the endpoint goes
  `Updating`. moto only records the range. Choice for an endpoint that is `Updating` at
  that moment: the range is recorded, the count does NOT change, and nothing retries it
  later (SageMaker docs, "Update endpoints that use auto scaling": "auto scaling is
  blocked while the update operation is in progress"; the API reference's "not active"
  rule). A caller must re-check once the endpoint is `InService`.
  Switch: `set_range_moves_capacity(on)`. On by default in-process (what AWS does). The
  local cloud's server starts with it OFF unless MODEL_MEDIC_MOTO_RANGE_MOVES_CAPACITY=1
  (localcloud/server.py), because the demo scenarios still expect moto's old behaviour
  (a raised floor leaves the count to "the scaling policy", and a lowered floor gives the
  instance back at once - in AWS only the scaling policy would scale in later, and moto
  has no policy engine); turn it on with `LocalCloud.set_range_moves_capacity(True)`.
* `moto_now()`: the simulated clock of these extensions (UTC-aware). In-process it is the
  process clock, so `time_machine.travel(...)` moves it. In server mode the handlers run
  at injected times (localcloud.runner, time-machine) while the server runs on real
  time, so the local cloud sets the server's clock before each invocation
  (`LocalCloud.set_clock(at)`, called by `LocalCloud.invoke`): from then on `moto_now()`
  is `at` plus the real time elapsed since, ticking like the handler's clock.
* `local_cloud_routes`: how the local cloud reaches the settings above in the moto server
  process (they are process state), as POST routes with a JSON body on moto's own
  `/moto-api/` app: `/moto-api/model-medic/clock` `{"at": ISO-8601 or null}`,
  `/moto-api/model-medic/update-seconds` `{"seconds": s}`,
  `/moto-api/model-medic/fail-next-update` `{"endpoint": name, "reason": text}`,
  `/moto-api/model-medic/range-moves-capacity` `{"on": true|false}`. Used by
  `LocalCloud.set_clock`, `set_update_seconds`, `fail_next_update` and
  `set_range_moves_capacity`.
* `reset_simulation()` puts the clock, duration, range switch and pending failures back
  to their in-process defaults (the tests' fixture calls it after each test).
* `sagemaker_names_taken_once`: CreateModel and CreateEndpointConfig refuse an existing name
  (ValidationException "Cannot create already existing ..."), as AWS does; moto overwrites.
* `endpoint_arns_as_in_aws`: an endpoint's ARN carries its name in lower case, as AWS writes
  it; moto keeps the name's case. ListTags, AddTags and DeleteTags find an endpoint by that ARN.
* `versioned_model_package_names`: DescribeModelPackage resolves `group/3`, as AWS does.
* `model_packages_as_in_aws`: a package's CreationTime and LastModifiedTime come from
  `moto_now()` (the local cloud registers and approves packages at simulated times; moto
  stamps the process clock). A package is never created at or before the previous one (1 ms
  later if the clock has not moved, e.g. frozen in a test), so sorting by CreationTime finds
  the newest package as it would in AWS. UpdateModelPackage changes only what it is given:
  moto overwrote ApprovalDescription and CustomerMetadataProperties with None when the call
  left them out. Here a missing ApprovalDescription keeps the old one (our reading of an
  update; AWS does not document clearing it), CustomerMetadataProperties are merged in and
  CustomerMetadataPropertiesToRemove taken out. `ModelPackageArn` must be an ARN
  (service-2.json gives it the pattern `arn:aws...:sagemaker:...:model-package/...`;
  docs/aws-behaviours.md, "SageMaker APIs"): moto also took a group name and updated the
  group's newest version; here that is a ValidationException in AWS's constraint wording.
  moto already keeps and returns `ModelMetrics`, lists a group's packages and filters by
  ModelApprovalStatus (without a group, ListModelPackages lists only unversioned packages
  unless ModelPackageType says otherwise - AWS's documented default, service-2.json) and its
  summaries carry only ModelPackageSummary's fields (the response serialiser keeps the
  shape's members): tested, not changed.
* `alarm_state_times_follow_the_clock`: an alarm's StateUpdatedTimestamp comes from
  `moto_now()`, so the time the sweep reads (DescribeAlarms) is the transition's own time,
  as in AWS, also when the local cloud runs at a simulated time.
* `alarm_transition_times_as_in_aws`: DescribeAlarms gives `StateTransitionedTimestamp`,
  "the date and time that the alarm's StateValue most recently changed", where
  `StateUpdatedTimestamp` is "the time stamp of the last update to the value of either the
  StateValue or EvaluationState parameters" (botocore cloudwatch service-2.json, MetricAlarm;
  docs/aws-behaviours.md, "Alarm actions run only on transitions"). The control loop dates a
  transition by the first, so an evaluation-state change alone does not move it. moto 5.2
  has no such field. Here it is the alarm's creation stamp at first and `moto_now()` whenever
  SetAlarmState changes the StateValue; a SetAlarmState to the same value (which in moto
  still moves StateUpdatedTimestamp) leaves it. moto has no EvaluationState, so the two
  times only part when a state is set again unchanged.
* `alarm_history_as_in_aws`: moto 5.2 has no DescribeAlarmHistory (docs/aws-behaviours.md,
  "moto gaps"), so `model-medic backtest`, which replays an account's alarm history, could not
  run against the local cloud. AWS "retains the history of an alarm even if you delete the
  alarm" (API reference, DescribeAlarmHistory). Here every change of an alarm's StateValue -
  by SetAlarmState, which is also how the local cloud's own evaluation (`cloud.evaluate_alarm`)
  sets a state - is kept as a history item shaped like AWS's (botocore cloudwatch
  service-2.json, AlarmHistoryItem; the AWS CLI's example output, tests/data/real/
  awscli-describe-alarm-history.json): `HistoryItemType` StateUpdate, `Timestamp` the
  transition's time (the alarm's StateTransitionedTimestamp, `moto_now()`), `HistorySummary`
  "Alarm updated from OLD to NEW", and `HistoryData` the JSON text
  `{"version": "1.0", "oldState": {...}, "newState": {...}}`, each state with its
  `stateValue` and `stateReason`, and its `stateReasonData` object when one was given (AWS's
  example leaves it out of a state set by hand). A SetAlarmState to the state the alarm is
  already in records nothing: "Alarm updated from X to Y" names a change, and AWS documents
  none for an unchanged state (our reading). The items outlive the alarm, as in AWS.
  DescribeAlarmHistory filters by AlarmName, AlarmTypes (MetricAlarm when omitted: "If you
  omit this parameter, only metric alarms are returned"), HistoryItemType, StartDate and
  EndDate (both inclusive here: AWS does not say), orders by ScanBy (TimestampDescending when
  omitted, as the CLI example's newest-first output shows), and pages with MaxRecords (1-100;
  100 when omitted, AWS documents no default) and an opaque NextToken (an offset here; one that
  is not ours is `InvalidNextToken`, the operation's documented error). Not modelled:
  ConfigurationUpdate and Action items (a filter for them finds nothing), alarm contributors,
  and the retention limit (the console keeps 14 days: "the standard 14 day alarm history",
  AWS Cloud Operations blog, "Extending and exploring alarm history in Amazon CloudWatch").
* `composite_alarms_as_in_aws`: moto 5.2.5 answers PutCompositeAlarm with NotImplementedError,
  although its PutMetricAlarm already reads `AlarmRule` and DescribeAlarms lists such an alarm
  under `CompositeAlarms`; here PutCompositeAlarm is that call. And moto's DeleteAlarms deletes
  an alarm a composite alarm depends on, which AWS refuses: the WHOLE call fails with
  `ValidationError` "Cannot delete abc,xyz as there are composite alarm(s) depending on them."
  ("... depending on it." for one name), and no alarm of the call is deleted (AWS's wording as
  quoted from real CloudWatch in public issue threads; docs/aws-behaviours.md, "CloudWatch API
  limits and percentiles"). The alarm manager keeps such alarms and deletes the rest
  (fleet/alarm_manager.py), which only this refusal can test. A rule's references are its ALARM(...), OK(...) and
  INSUFFICIENT_DATA(...) functions, by name or ARN (API reference, PutCompositeAlarm). Our
  choices where AWS documents nothing: the names are listed in the order asked, and a composite
  alarm deleted in the same call does not hold its children. Not modelled: a rule's AT_LEAST
  function and ActionsSuppressor, AWS's refusal of a rule naming an alarm that does not exist,
  the one-composite-alarm-per-call limit, and a composite alarm's own evaluation.
* `pipeline_executions_run_until_finished`: see the section below.
* `endpoint_configs_keep_every_field`: CreateEndpointConfig takes more fields than moto keeps
  even with `endpoint_kinds_as_in_aws` (ExplainerConfig, VpcConfig, EnableNetworkIsolation,
  and any added later), and DescribeEndpointConfig returns what was given (botocore's
  DescribeEndpointConfigOutput has the same members). Dropped, a derived config that lost one
  would look right. Here the request is kept and DescribeEndpointConfig answers every field
  of it (Tags aside, which DescribeEndpointConfig does not return).
* `cloudwatch_metric_stat_queries`: GetMetricData's MetricStat queries, for two gaps.
  (1) Which datapoints: "Metrics are uniquely defined by a name, a namespace, and zero or
  more dimensions" (CloudWatch User Guide, "Amazon CloudWatch concepts"): a query takes the
  metric with exactly its namespace, name and dimension set, listed in any order. moto 5.2
  ignores the namespace when the query has dimensions (a `ModelLatency` of another
  namespace with the same dimensions is averaged in), misses the metric when the query
  lists its dimensions in another order (moto's Dimension ordering is broken), and takes
  every dimension set when the query has none. Here every MetricStat query takes the
  datapoints of exactly its namespace, name and dimension set (and unit, if given), period
  by period as moto steps; SampleCount, Average, Sum, Minimum and Maximum are then computed
  by moto's own code, so their arithmetic is moto's.
  (2) Percentiles: moto crashes on `Stat: "p99"` (docs/aws-behaviours.md, "moto gaps"), so
  the canary judge's tail-latency comparison could not run. A `Stat` of `pNN` or `pNN.NN`
  ("any percentile, using up to two decimal places (for example, p95.45)", "a value between
  p0.0 and p100": CloudWatch User Guide, "Statistics definitions"; API reference,
  ExtendedStatistic) is answered over the raw datapoints put with `Value` or
  `Values`/`Counts`. AWS defines p95 as the value that 95 % of the period's data lies below
  and does not document an interpolation; the value given is the nearest rank (the smallest
  put value with at least NN % of the datapoints at or below it: numpy's `inverted_cdf`), so
  p0 is the Minimum and p100 the Maximum. Statistic sets (`StatisticValues`) count only
  where AWS says they can: "if the SampleCount value of the statistic set is 1 [or] the Min
  and the Max values of the statistic set are equal"; any other set in a period, or any
  negative value ("Percentile statistics are not available for metrics when any of the
  metric values are negative numbers", GetMetricStatistics API reference), leaves that
  period without a value, as AWS leaves it. Any other `Stat` is rejected with a
  ValidationError whose message says what the local cloud answers (ours; moto crashed): the
  other extended statistics (TM, WM, PR, TC, TS, IQM), `P99` in upper case, a percentile
  above p100 or with more than two decimals. GetMetricStatistics' `ExtendedStatistics` is
  not modelled. Metric-math expressions are still moto's
  (docs/aws-behaviours.md, "moto gaps": they return no values). Results come back in query
  order.
  (3) StartTime: "CloudWatch rounds the specified time stamp" down - to the whole minute for a
  start less than 15 days ago, to the 5-minute interval between 15 and 63 days, to the hour
  beyond, and to 5, 10, 20 or 30 seconds for such a Period (botocore cloudwatch service-2.json,
  GetMetricDataInput.StartTime; `rounded_start`, ages on the simulated clock `moto_now()`). moto
  took the second asked, so its periods started there and a datum in the start's minute before
  that second was left out. EndTime is documented as exclusive and not rounded: kept.
  (4) Paging: "MaxDatapoints: the maximum number of data points the request should return
  before paginating ... the default of 100,800" and NextToken "to get the next set of data
  points" (GetMetricDataInput). moto never paged. Here a page holds at most MaxDatapoints
  datapoints counted across the results in query order, each query's result on every page, one
  with datapoints left `PartialData`; a NextToken that is not ours is InvalidNextToken (the
  operation's documented error). `set_metric_data_page_size` lowers the default for a test, so
  the product's NextToken loops can be made to page.
* `cloudwatch_list_metrics_once_each`: ListMetrics lists "the specified metrics", "up to 500
  results ... for any one call" (botocore cloudwatch service-2.json, ListMetrics), and a metric
  is its namespace, name and dimension set (above). moto 5.2 lists one entry per datapoint
  batch put (its de-duplication compares dimensions in order, which is broken as above), so a
  metric put every minute for an hour is listed sixty times and the pages a caller reads
  are many more than in AWS (docs/aws-behaviours.md, "moto gaps"). Here each metric is listed
  once, in the order moto first holds it, 500 a page; the calls a benchmark counts are
  then AWS's.
* `eventbridge_rules_as_in_aws`: in moto, a schedule rule (no event pattern) matches
  every event put on its bus, and a matching rule with a Lambda target crashes PutEvents
  (it would need Docker). In AWS a schedule rule matches no put event; Lambda targets are
  delivered by the local cloud itself (`LocalCloud.put_event`), so moto skips them.
* `endpoint_kinds_as_in_aws`: every kind of endpoint SageMaker has can be made as AWS
  takes it and is described as AWS describes it (tests/data/real/endpoints/README.md holds a
  real or AWS-built endpoint of each kind). moto 5.2 differs in six ways:
  (1) it checks `InstanceType` against a short list of its own (no `ml.g5.*`, which AWS's own
  inference-component examples use); here the list is botocore's `ProductionVariantInstanceType`
  enum, AWS's list (the message keeps moto's wording, the set is named, not listed).
  (2) A variant without `ModelName` crashed moto (KeyError); `ModelName` is optional
  (botocore's `ProductionVariant` requires only VariantName) and an inference-component
  endpoint's variants have none: taken, and only a named model must exist.
  (3) `ShadowProductionVariants` and `ExecutionRoleArn` were dropped; here they are kept and
  DescribeEndpointConfig returns them. "If you use this field, you can only specify one
  variant for ProductionVariants and one variant for ShadowProductionVariants"
  (service-2.json, CreateEndpointConfigInput): otherwise a ValidationException (our wording);
  shadow variants are checked like production ones (instance type, model).
  (4) DescribeEndpoint showed no `ShadowProductionVariants` and no `AsyncInferenceConfig`; both
  come from the config now (DescribeEndpointOutput has both). Its `DataCaptureConfig` was the
  config's request (InitialSamplingPercentage, CaptureOptions); AWS answers a
  `DataCaptureConfigSummary` (EnableCapture, CaptureStatus, CurrentSamplingPercentage,
  DestinationS3Uri, KmsKeyId), made here by `_capture_summary`.
  (5) A variant summary held only counts, weights and the serverless config. AWS's summary
  carries `ManagedInstanceScaling` and `RoutingConfig` (ProductionVariantSummary), and a
  variant without `InitialVariantWeight` has weight 1.0 ("If unspecified, it defaults to
  1.0", ProductionVariant; moto left the weight out, also for an explicit 0.0).
  (6) A serverless variant showed `DesiredServerlessConfig` and no instance count; a real
  DescribeEndpoint shows `CurrentInstanceCount: 0` next to `CurrentServerlessConfig`, with
  `CurrentWeight`/`DesiredWeight` and neither `DesiredInstanceCount` nor
  `DesiredServerlessConfig` (tests/data/real/endpoints/serverless.describe-endpoint.json).
  An UpdateEndpoint (`sagemaker_update_endpoint`) takes the new config's variants, shadow
  variants, async config and data capture once it is done. AWS's rule that
  `ManagedInstanceScaling` is "only supported for inference component endpoints" (a
  ValidationException seen in 2026) is not enforced: endpoints made before it can show it on
  a model's variant, and the tests make one to prove the scale-up's bound.
* `endpoint_variants_keep_what_was_not_changed`: moto's UpdateEndpointWeightsAndCapacities
  sets to None the keys it was not asked to change (a new instance count loses the variant's
  weight, docs/aws-behaviours.md, "moto gaps"); AWS keeps them.
* `serverless_concurrency_updates`: UpdateEndpointWeightsAndCapacities takes, per variant,
  `ServerlessUpdateConfig` {MaxConcurrency, ProvisionedConcurrency} (botocore's
  DesiredWeightAndCapacity; API reference, UpdateEndpointWeightsAndCapacities); moto ignores
  it (and writes None over the variant's instance count). Here the variant's
  `CurrentServerlessConfig` takes the new values once the update is done; while the endpoint
  is `Updating` (`endpoint_updates_take_time`), `CurrentServerlessConfig` is the old one and
  `DesiredServerlessConfig` the one asked (ProductionVariantSummary: "The serverless
  configuration requested for the endpoint update"), as the instance count shows
  Current/Desired. Refused with ValidationException (our wording: AWS's is not documented):
  a value outside 1-200 (ServerlessMaxConcurrency / ServerlessProvisionedConcurrency), a
  ProvisionedConcurrency above the variant's MaxConcurrency ("Should be less than or equal
  to MaxConcurrency"), a ServerlessUpdateConfig for a variant that is not serverless.
  Application Auto Scaling: moto's own list of scalable dimensions lacks
  `sagemaker:variant:DesiredProvisionedConcurrency`, which AWS has (botocore's
  application-autoscaling ScalableDimension enum; SageMaker Developer Guide, "Automatically
  scale Provisioned Concurrency for a serverless endpoint"): the list here is botocore's. A
  new range on that dimension moves the variant's ProvisionedConcurrency into it, as
  `scalable_target_range_moves_capacity` moves an instance count.
* `sagemaker_search_endpoints_as_in_aws`: SageMaker's Search pages its results: "If more than
  `MaxResults` resources match the specified `SearchExpression`, the response includes a
  `NextToken`", and MaxResults is 1-100 (botocore sagemaker service-2.json, SearchRequest).
  moto 5.2 returns every match in one response, so a benchmark or a test counting calls
  would see one Search where AWS takes one per 100 endpoints. Here Search on resource
  `Endpoint` returns at most MaxResults records and a NextToken (an offset here; AWS's is
  opaque); without MaxResults, every record in one page (moto's answer: AWS documents no
  default, and Model Medic always passes 100). Each endpoint is settled first, as
  DescribeEndpoint and ListEndpoints settle it (`endpoint_updates_take_time`). AWS does not
  document how soon Search shows a change; Model Medic acts on no Search record without a
  fresh DescribeEndpoint (rollout/targets.py, `endpoint_states`), so here Search shows the state as
  it is. AWS's default order (LastModifiedTime, descending: SearchRequest.SortBy) is not
  modelled: the order is moto's. Other resources are moto's.
* `cloudformation_keys_keep_a_json_policy`: AWS::KMS::Key's `KeyPolicy` is a JSON object in
  a template (CloudFormation resource reference, AWS::KMS::Key); CreateKey's `Policy` is a
  string (botocore kms service-2.json). moto hands the template's object to its CreateKey
  as it is, and then every key call that checks the policy (DescribeKey, Encrypt, ...)
  fails with a server error on `json.loads`. The key keeps the policy as JSON text, as
  AWS keeps it.
* `cloudformation_alarms`: moto 5.2.5's CloudFormation has no AWS::CloudWatch::Alarm (its
  Alarm is no CloudFormation model): it skips the resource with a warning, so the stack's own
  health alarms (template.yaml, DeadLetterAlarm and LettersNotSentAlarm) would not exist here
  and the stack's resource list would hold a blank row. Here the resource is the
  PutMetricAlarm of its properties (CloudFormation resource reference,
  AWS::CloudWatch::Alarm: the same fields, a single metric or `Metrics` queries), its
  physical ID the alarm's name (a name is required here: the template names them), and a
  stack delete deletes it. Tags and updates are not modelled (the template's alarms have none).
* `sqs_event_source_mappings_polled_here`: an SQS event source mapping (the data jobs' queues,
  measure/fanout.py) is kept and answered by the Lambda API as moto makes it, but moto's SQS
  then hands every newly sent message to the mapped function through Docker (SendMessage
  receives a batch and invokes), which is not here: the receive counts a delivery, the
  failed invoke puts the messages back, and the queue's redrive policy would park them in the
  dead-letter queue unmeasured. Here the mapping is detached from moto's queue; the local
  cloud polls it as Lambda does (localcloud/queues.py, `LocalCloud.deliver_queues`). And AWS
  refuses a mapping whose function's timeout exceeds the queue's visibility timeout ("Lambda
  validates this requirement when you create or update an event source mapping", Lambda
  Developer Guide, "Creating and configuring an Amazon SQS event source mapping"); moto took
  it. Here CreateEventSourceMapping answers InvalidParameterValueException (our wording).
* `inference_components_as_in_aws`: moto 5.2 implements no inference-component operation
  (CreateInferenceComponent and the rest answer NotImplementedError), and its Application Auto
  Scaling refuses `sagemaker:inference-component:DesiredCopyCount`, which AWS's
  `ScalableDimension` enum has (botocore application-autoscaling service-2.json) and AWS's
  inference-component autoscaling notebook registers on ResourceId `inference-component/<name>`
  (tests/data/real/inference-components/). Here Create, Describe, List (EndpointNameEquals),
  UpdateInferenceComponentRuntimeConfig and Delete keep a component with the fields of
  botocore's DescribeInferenceComponentOutput; its tags answer ListTags on its ARN. A component
  created with `Specifications` (one per instance type) is described with `Specifications` and
  no `Specification` ("When this parameter is populated, the singular Specification parameter
  is not returned", DescribeInferenceComponentOutput); this extension used to show an empty
  `Specification`. A component
  is `Creating`, and after an UpdateInferenceComponentRuntimeConfig `Updating`, with
  `RuntimeConfig.DesiredCopyCount` the count asked and `CurrentCopyCount` the count before, for
  the endpoints' update duration (`set_update_seconds`), then `InService` at the count asked:
  AWS's statuses (service-2.json `InferenceComponentStatus`: InService, Creating, Updating,
  Failed, Deleting). A runtime change while the component is not InService is refused with
  ValidationException (our wording: AWS documents none). A missing component answers
  ValidationException "Could not find inference component <name>." (SageMaker's Describe
  calls answer ValidationException for a missing resource; the wording is ours). The
  scalable target moves the copy count into its range as `scalable_target_range_moves_capacity`
  moves a variant's. UpdateInferenceComponent changes the `Specification` (or `Specifications`,
  one or the other as service-2.json documents) and, with `RuntimeConfig`, the copy count: the
  component is `Updating` for the update duration, then `InService` on what was asked; refused
  with ValidationException while not InService, with both Specification and Specifications, and
  when a ModelName it names does not exist (our wordings). Neither is needed: only
  InferenceComponentName is required (UpdateInferenceComponentInput), and a request without a
  specification changes the copy count (or rolls the copies) on the specification the component
  has. Create takes the same specifications with the same refusals. DescribeInference
  Component shows the specification in its own shape, as AWS does (service-2.json
  `InferenceComponentSpecificationSummary`): the container's `Image` asked is shown as
  `DeployedImage.SpecifiedImage` - moto answered the request's shape back. Not modelled: placement
  - whether the instances have room for the copies (AWS adds instances with managed instance
  scaling, or leaves the copies unplaced), Failed, the digest an image resolves to
  (`DeployedImage.ResolvedImage`). With a `DeploymentConfig` the update rolls (docs/aws-behaviours.md,
  "A component's rolling update", API reference InferenceComponentRollingUpdatePolicy):
  ValidationException for a batch outside 5 %..50 % of the copies, a WaitIntervalInSeconds outside
  0..3600, a MaximumExecutionTimeoutInSeconds outside 600..28800 or more than 10 alarms (our
  wordings); then batch after batch, each taking the update duration to come up and then baking
  WaitIntervalInSeconds, while each alarm named is looked at minute by minute - in ALARM as set, or
  as CloudWatch would judge it from its metric's datapoints in moto (localcloud/cloudwatch.py
  `evaluate`). An alarm in ALARM during a bake puts the old specification back (InService after one
  update duration); otherwise the new one serves once the last batch has baked. Meanwhile the
  component is Updating and shows the old specification (AWS does not document which it shows)
  and the request's `LastDeploymentConfig`. Not modelled: the execution timeout, placement, and
  what FailureReason says after a rollback.
* `sns_one_subscription_per_endpoint`: SNS keeps one subscription per topic, protocol and
  endpoint. Subscribe again with the same three and the same attributes returns the same
  subscription (moto does this); with other attributes - another filter policy - AWS refuses it
  with `InvalidParameter` "Invalid parameter: Attributes Reason: Subscription already exists with
  different attributes" (AWS's answer as quoted from real SNS in public threads; the API
  reference does not say: docs/aws-behaviours.md, "S3, SNS, KMS and IAM details"). moto returned
  the existing subscription and wrote the new attributes over it, so a template that subscribed
  one function twice to a topic with two filter policies deployed here and silently lost one of
  them. Here that Subscribe is refused and the subscription is left as it was. Attributes are
  compared by value (a FilterPolicy as JSON, booleans as AWS's "true"/"false").
* `sns_subjects_as_documented`: SNS Publish's `Subject` "must be UTF-8 text with no line breaks
  or control characters, and less than 100 characters long" (botocore sns service-2.json,
  PublishInput). moto 5.2 refuses only a subject over 100 characters and takes line breaks, so a
  subject of exactly 100 characters (`tell/outcome.py` once cut its subjects there) was sent here
  and could be refused by SNS - its letter then never leaves the outbox. Here a subject of 100
  characters or more, or with a line break or control character, is refused with
  `InvalidParameter` "Invalid parameter: Subject" (AWS's wording as quoted from real SNS for a
  subject too long; its wording for a control character is not documented), for Publish and each
  PublishBatch entry alike (moto's batch checks each entry through the same Publish).
  Observations differ from the documented limit - real SNS was reported to take exactly 100
  characters and refuse 101 - and the documented contract is kept, being the one AWS promises
  (docs/aws-behaviours.md, "S3, SNS, KMS and IAM details").
* `cloudwatch_dimensions_as_in_aws`: CloudWatch refuses a PutMetricData call when a dimension's
  name or value holds a character outside printable ASCII (control characters included), has
  no non-whitespace character, or is too long (a name 1-255 characters and not starting with a
  colon, a value 1-1,024): botocore cloudwatch service-2.json, Dimension; docs/aws-behaviours.md,
  "CloudWatch dimension values". The whole call is refused, every datum in it lost. moto 5.2
  stores any dimension, so a feature named `température` was published here and lost on AWS
  (ComputeDrift's MaxFeatureDrift with it). Here the call is refused with InvalidParameterValue,
  "The value for parameter MetricData.member.N.Dimensions.member.M.Value contains non-ASCII
  characters." for a character outside printable ASCII (AWS's answer as quoted from real
  CloudWatch in public threads, also for a newline), in our wording for the other rules, and
  nothing of the call is stored. botocore refuses an empty name or value before sending.
* `dynamodb_between_bounds_in_order`: DynamoDB refuses a Query whose key condition is `sk
  BETWEEN :lo AND :hi` with :lo above :hi: ValidationException "... The BETWEEN operator
  requires upper bound to be greater than or equal to lower bound ..." (docs/aws-behaviours.md,
  "Reading a deployed stack"). moto answers no items, so a query built with its bounds swapped
  (a clock behind another) passed here and failed on AWS. Here it is refused in that wording
  (the condition expression's, as reported; AWS's wording for a key condition may differ), for
  an expression or the legacy KeyConditions alike. Equal bounds are taken, as in AWS.
* `serialise_dynamodb_requests`: DynamoDB applies a condition expression and the write
  it guards atomically, and a transaction as a whole. moto checks the condition and then
  writes in plain Python, so two threads can both pass the check. Serialising moto's
  DynamoDB request handling restores the atomicity that the ledger's conditional writes
  (and the incidents' versioned updates) rely on, so a race test measures our code, not moto's.
* `dynamodb_transaction_tokens_as_in_aws`: a TransactWriteItems whose ClientRequestToken a
  transaction that succeeded used in the last 10 minutes is that transaction again - it succeeds
  and writes nothing; with other items DynamoDB answers IdempotentParameterMismatchException. A
  cancelled transaction leaves no token: the same request sent again is tried again. moto
  ignored the token, so the retry of a transaction whose answer was lost failed its own
  conditions here, where AWS takes it as done (`store/table.py` derives the token from the
  transaction within a write's in-place retries; sources: docs/aws-behaviours.md, "Transient or
  permanent").
"""

import copy
import functools
import json
import os
import re
import threading
import unicodedata
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

from moto.dynamodb.responses import DynamoHandler


def _once(install: Callable[[], None]) -> Callable[[], None]:
    """An extension installs itself at most once per process, however often it is called."""
    done = False

    @functools.wraps(install)
    def wrapper() -> None:
        nonlocal done
        if not done:
            done = True
            install()

    return wrapper


_dynamodb_lock = threading.RLock()


@_once
def serialise_dynamodb_requests() -> None:
    """Make each moto DynamoDB request atomic with respect to the others."""
    original = DynamoHandler.call_action

    def call_action(self: DynamoHandler) -> Any:
        with _dynamodb_lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


# How long DynamoDB keeps a transaction's ClientRequestToken after the transaction.
TOKEN_WINDOW = timedelta(minutes=10)


@_once
def dynamodb_transaction_tokens_as_in_aws() -> None:
    """TransactWriteItems honours its ClientRequestToken, as in AWS."""
    from moto.core.responses import ActionResult
    from moto.dynamodb.exceptions import DynamodbException

    original = DynamoHandler.transact_write_items

    def transact_write_items(self: DynamoHandler) -> Any:
        token = self.body.get("ClientRequestToken")
        if not token:
            return original(self)
        # Kept on the backend, so a fresh moto world (its backends reset) starts with none.
        tokens: dict[str, tuple[str, datetime]] = self.dynamodb_backend.__dict__.setdefault("_request_tokens", {})
        items = json.dumps(self.body["TransactItems"], sort_keys=True)
        now = moto_now()
        with _dynamodb_lock:
            for old in [t for t, (_, at) in tokens.items() if now - at >= TOKEN_WINDOW]:
                del tokens[old]
            if token in tokens:
                if tokens[token][0] != items:
                    raise DynamodbException(
                        "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                        "Request token is already used with different parameters.",
                    )
                return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
            answer = original(self)  # a cancelled transaction raises here and leaves no token
            tokens[token] = (items, now)
            return answer

    DynamoHandler.transact_write_items = transact_write_items  # type: ignore[method-assign]


# --- SageMaker Pipelines ---------------------------------------------------------------
#
# * In AWS a pipeline execution is `Executing` until its steps finish; moto marks it
#   `Succeeded` at once, so "never start beside a running execution" could not be seen.
#   Executions start as `Executing`; `finish_pipeline_executions` ends them.
# * `start_pipeline_execution` with a ClientRequestToken already used returns the same
#   execution in AWS; moto starts another. Honour the token.


@_once
def pipeline_executions_run_until_finished() -> None:
    """Executions start `Executing` and honour ClientRequestToken, as in AWS."""
    from moto.sagemaker.models import FakePipelineExecution, SageMakerModelBackend

    original_init = FakePipelineExecution.__init__
    original_start = SageMakerModelBackend.start_pipeline_execution

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.pipeline_execution_status = "Executing"

    def start(self: Any, pipeline_name: str, *args: Any, **kwargs: Any) -> dict[str, str]:
        token = kwargs.get("client_request_token") or (args[4] if len(args) > 4 else None)
        pipeline = self.pipelines.get(pipeline_name)
        if token and pipeline is not None:
            for arn, execution in pipeline.pipeline_executions.items():
                if getattr(execution, "client_request_token", None) == token:
                    return {"PipelineExecutionArn": arn}
        return original_start(self, pipeline_name, *args, **kwargs)

    FakePipelineExecution.__init__ = init  # type: ignore[method-assign]
    SageMakerModelBackend.start_pipeline_execution = start  # type: ignore[method-assign]


def finish_pipeline_executions(account: str, region: str, status: str = "Succeeded") -> int:
    """End every `Executing` pipeline execution in moto with `status`; returns how many."""
    from moto.sagemaker.models import sagemaker_backends

    ended = 0
    for pipeline in sagemaker_backends[account][region].pipelines.values():
        for execution in pipeline.pipeline_executions.values():
            if execution.pipeline_execution_status == "Executing":
                execution.pipeline_execution_status = status
                ended += 1
    return ended


# --- The simulated clock and the simulation's settings ----------------------------------

UPDATE_SECONDS_ENV = "MODEL_MEDIC_MOTO_UPDATE_SECONDS"
RANGE_MOVES_CAPACITY_ENV = "MODEL_MEDIC_MOTO_RANGE_MOVES_CAPACITY"
ROUTE_PREFIX = "/moto-api/model-medic"
ONE_CAPACITY_MESSAGE = (
    "UpdateEndpointWeightsAndCapacities can change the capacity of one variant per call; "
    "DesiredInstanceCount was given for {variants}."
)

_settings_lock = threading.RLock()
_clock_offset: timedelta | None = None  # server mode: simulated time minus real time
_update_seconds = 0.0
_failures: dict[str, str] = {}  # endpoint name -> FailureReason of its next UpdateEndpoint
_lags: dict[str, tuple[int, str]] = {}  # endpoint name -> (reads, status) shown late after its next update
_range_moves_capacity = True


def moto_now() -> datetime:
    """The extensions' clock (UTC): the process clock, shifted by `set_clock` if set."""
    now = datetime.now(UTC)
    offset = _clock_offset
    return now if offset is None else now + offset


def set_clock(at: datetime | None) -> None:
    """From now on `moto_now()` is `at` plus the time elapsed since; None: the process clock."""
    global _clock_offset
    with _settings_lock:
        if at is None:
            _clock_offset = None
        else:
            aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
            _clock_offset = aware - datetime.now(UTC)


def set_update_seconds(seconds: float) -> None:
    """How long (simulated) every endpoint change stays `Updating`; 0: done inside the call."""
    global _update_seconds
    if seconds < 0:
        raise ValueError("update seconds must be >= 0")
    with _settings_lock:
        _update_seconds = float(seconds)


def update_seconds() -> float:
    return _update_seconds


def set_range_moves_capacity(on: bool) -> None:
    """Whether RegisterScalableTarget scales a SageMaker variant into its new range."""
    global _range_moves_capacity
    with _settings_lock:
        _range_moves_capacity = bool(on)


def range_moves_capacity() -> bool:
    return _range_moves_capacity


def fail_next_update(endpoint_name: str, reason: str = "Deployment failed; rolled back by auto-rollback.") -> None:
    """The next UpdateEndpoint of `endpoint_name` rolls back to the old config with `reason`."""
    with _settings_lock:
        _failures[endpoint_name] = reason


def lag_next_update(endpoint_name: str, reads: int = 1, status: str = "InService") -> None:
    """After the next update of `endpoint_name`, its next `reads` DescribeEndpoint answers show it
    as it was before the call, with `status` (AWS not showing the change yet)."""
    if reads < 1:
        raise ValueError("reads must be >= 1")
    with _settings_lock:
        _lags[endpoint_name] = (reads, status)


def reset_simulation() -> None:
    """Process clock, instant updates, ranges move capacity, no pending failures or lags, AWS's
    GetMetricData pages."""
    global _update_seconds, _range_moves_capacity
    set_clock(None)
    with _settings_lock:
        _update_seconds = 0.0
        _range_moves_capacity = True
        _failures.clear()
        _lags.clear()
        _late.clear()
    set_metric_data_page_size(None)


def simulation_state() -> dict[str, Any]:
    """The extensions' own state: what `reset_simulation` resets and the endpoint changes in flight
    (keyed by moto's endpoint objects), for a test's snapshot of a moto world, copied in one deep
    copy with the backends (tests/functional/moto_snapshot.py). State added to this module goes here."""
    with _settings_lock:
        return {
            "_clock_offset": _clock_offset,
            "_update_seconds": _update_seconds,
            "_range_moves_capacity": _range_moves_capacity,
            "_metric_data_page_size": _metric_data_page_size,
            "_failures": dict(_failures),
            "_lags": dict(_lags),
            "_updates": dict(_updates),
            "_late": dict(_late),
        }


def restore_simulation_state(state: dict[str, Any]) -> None:
    """Put back what `simulation_state` gave (a copy of it: its endpoints are the restored world's)."""
    global _clock_offset, _update_seconds, _range_moves_capacity, _metric_data_page_size
    with _settings_lock:
        _clock_offset = state["_clock_offset"]
        _update_seconds = state["_update_seconds"]
        _range_moves_capacity = state["_range_moves_capacity"]
        _metric_data_page_size = state["_metric_data_page_size"]
        for name in ("_failures", "_lags", "_updates", "_late"):
            kept = globals()[name]
            kept.clear()
            kept.update(state[name])


# --- SageMaker endpoint updates take time ------------------------------------------------


@dataclass
class _Update:
    until: datetime
    before: list[dict[str, Any]]  # the variants as they were (what a rollback returns to)
    after: list[dict[str, Any]]  # the variants once the update has succeeded
    config: str | None = None  # UpdateEndpoint's new endpoint config
    failure: str | None = None  # FailureReason if the update rolls back
    settings: dict[str, Any] | None = None  # the new config's capture, shadows and async (`_config_settings`)


_updates: "weakref.WeakKeyDictionary[Any, _Update]" = weakref.WeakKeyDictionary()
# An endpoint shown late (`lag_next_update`): [DescribeEndpoint answers left, the answer shown].
_late: "weakref.WeakKeyDictionary[Any, list[Any]]" = weakref.WeakKeyDictionary()
_COUNTS_AND_WEIGHTS = ("CurrentInstanceCount", "CurrentWeight")


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)  # moto keeps its times naive UTC


def _in_progress(endpoint: Any) -> Exception:
    from moto.sagemaker.exceptions import ValidationError

    return ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')


def _settle(endpoint: Any) -> None:
    """Complete the endpoint's update if its time has come."""
    update = _updates.get(endpoint)
    if update is not None and moto_now() >= update.until:
        _finish(endpoint, update)


def _finish(endpoint: Any, update: _Update) -> None:
    if update.failure is not None:
        endpoint.production_variants = copy.deepcopy(update.before)
        endpoint.failure_reason = update.failure
    else:
        endpoint.production_variants = copy.deepcopy(update.after)
        if update.config is not None:
            endpoint.endpoint_config_name = update.config
        for attribute, value in (update.settings or {}).items():  # the new config's, once it serves
            setattr(endpoint, attribute, copy.deepcopy(value))
    endpoint.pending_deployment_summary = None  # None keys are left out of the response
    endpoint.endpoint_status = "InService"
    endpoint.last_modified_time = _naive(update.until)
    _updates.pop(endpoint, None)


def _begin(
    endpoint: Any,
    before: list[dict[str, Any]],
    after: list[dict[str, Any]],
    config: str | None = None,
    failure: str | None = None,
    pending: list[dict[str, Any]] | None = None,
    settings: dict[str, Any] | None = None,
) -> None:
    """Start an update of `endpoint` from `before` to `after` (or back, if it fails); `settings`
    (UpdateEndpoint's, `_config_settings`) replace the endpoint's once the update has succeeded."""
    with _settings_lock:
        lag = _lags.pop(endpoint.endpoint_name, None)
    if lag is not None:  # as it was before the call: its config, its variants
        as_was = {k: v for k, v in endpoint.response_object.items() if k != "PendingDeploymentSummary"}
        _late[endpoint] = [lag[0], {**as_was, "ProductionVariants": copy.deepcopy(before), "EndpointStatus": lag[1]}]
    now = moto_now()
    update = _Update(now + timedelta(seconds=_update_seconds), before, after, config, failure, settings)
    endpoint.failure_reason = None
    endpoint.last_modified_time = _naive(now)
    if _update_seconds <= 0:
        _finish(endpoint, update)
        return
    endpoint.endpoint_status = "Updating"
    if config is None:  # same fleet: Current* stay, Desired* are what was asked
        current = {v["VariantName"]: v for v in before}
        shown = []
        for variant in after:
            row = dict(variant)
            for key in _COUNTS_AND_WEIGHTS:
                if key in current.get(variant["VariantName"], {}):
                    row[key] = current[variant["VariantName"]][key]
            was = current.get(variant["VariantName"], {}).get("CurrentServerlessConfig")
            if was is not None and was != variant.get("CurrentServerlessConfig"):
                row["CurrentServerlessConfig"], row["DesiredServerlessConfig"] = was, variant["CurrentServerlessConfig"]
            shown.append(row)
        endpoint.production_variants = shown
    else:  # a new fleet: the endpoint shows the old config until the deployment completes
        endpoint.production_variants = copy.deepcopy(before)
        endpoint.pending_deployment_summary = {
            "EndpointConfigName": config,
            "ProductionVariants": pending or [],
            "StartTime": _naive(now),
        }
    _updates[endpoint] = update


@_once
def endpoint_updates_take_time() -> None:
    """Endpoint changes stay `Updating` for the configured simulated time; see the docstring."""
    from moto.sagemaker.models import SageMakerModelBackend

    set_update_seconds(float(os.environ.get(UPDATE_SECONDS_ENV) or 0))
    original_describe = SageMakerModelBackend.describe_endpoint
    original_list = SageMakerModelBackend.list_endpoints
    original_delete = SageMakerModelBackend.delete_endpoint
    original_weights = SageMakerModelBackend.update_endpoint_weights_and_capacities

    def describe(self: Any, endpoint_name: str) -> Any:
        if endpoint_name in self.endpoints:
            endpoint = self.endpoints[endpoint_name]
            _settle(endpoint)
            late = _late.get(endpoint)
            if late is not None:  # `lag_next_update`
                late[0] -= 1
                if late[0] <= 0:
                    _late.pop(endpoint, None)
                return copy.deepcopy(late[1])
        return original_describe(self, endpoint_name)

    def list_endpoints(self: Any, *args: Any, **kwargs: Any) -> Any:
        for endpoint in list(self.endpoints.values()):
            _settle(endpoint)
        return original_list(self, *args, **kwargs)

    def delete(self: Any, endpoint_name: str) -> None:
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is not None:
            _settle(endpoint)
            if endpoint.endpoint_status != "InService":
                raise _in_progress(endpoint)
        original_delete(self, endpoint_name)

    def weights(self: Any, endpoint_name: str, desired_weights_and_capacities: list[dict[str, Any]]) -> Any:
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            return original_weights(self, endpoint_name, desired_weights_and_capacities)
        _settle(endpoint)
        if endpoint.endpoint_status != "InService":
            raise _in_progress(endpoint)
        before = copy.deepcopy(endpoint.production_variants)
        arn = original_weights(self, endpoint_name, desired_weights_and_capacities)
        _begin(endpoint, before, copy.deepcopy(endpoint.production_variants))
        return arn

    SageMakerModelBackend.describe_endpoint = describe  # type: ignore[method-assign]
    SageMakerModelBackend.list_endpoints = list_endpoints  # type: ignore[method-assign,assignment]
    SageMakerModelBackend.delete_endpoint = delete  # type: ignore[method-assign]
    SageMakerModelBackend.update_endpoint_weights_and_capacities = weights  # type: ignore[method-assign]


@_once
def one_variant_capacity_per_call() -> None:
    """UpdateEndpointWeightsAndCapacities changes the capacity of one variant per call."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import SageMakerModelBackend

    original = SageMakerModelBackend.update_endpoint_weights_and_capacities

    def update(self: Any, endpoint_name: str, desired_weights_and_capacities: list[dict[str, Any]]) -> Any:
        counted = [
            str(d.get("VariantName"))
            for d in desired_weights_and_capacities
            if d.get("DesiredInstanceCount") is not None or d.get("ServerlessUpdateConfig")
        ]
        if len(counted) > 1:
            raise ValidationError(message=ONE_CAPACITY_MESSAGE.format(variants=", ".join(counted)))
        return original(self, endpoint_name, desired_weights_and_capacities)

    SageMakerModelBackend.update_endpoint_weights_and_capacities = update  # type: ignore[method-assign]


# --- SageMaker UpdateEndpoint ----------------------------------------------------------

SAGEMAKER_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
COMPONENT_COPY_DIMENSION = "sagemaker:inference-component:DesiredCopyCount"
# VariantProperty.VariantPropertyType (SageMaker API reference, VariantProperty).
VARIANT_PROPERTY_TYPES = ("DesiredInstanceCount", "DesiredWeight", "DataCaptureConfig")
SCALED_VARIANT_MESSAGE = (
    "Variant(s) {variants} of endpoint {endpoint} are registered with Application Auto Scaling; "
    "deregister them (DeregisterScalableTarget) before an update removes them or changes their instance type."
)


def _scaled_variants(account: str, region: str, endpoint_name: str) -> set[str]:
    """The variants of `endpoint_name` with a registered scalable target."""
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    targets = applicationautoscaling_backends[account][region].targets.get(SAGEMAKER_DIMENSION, {})
    prefix = f"endpoint/{endpoint_name}/variant/"
    return {
        resource_id.removeprefix(prefix)
        for resource_id, target in targets.items()
        if resource_id.startswith(prefix) and target.service_namespace == "sagemaker"
    }


def _refuse_to_remove_or_retype_scaled_variants(backend: Any, endpoint: Any, config: dict[str, Any]) -> None:
    """UpdateEndpoint fails if it removes an auto-scaled variant or changes its instance type."""
    from moto.sagemaker.exceptions import ValidationError

    scaled = _scaled_variants(backend.account_id, backend.region_name, endpoint.endpoint_name)
    if not scaled:
        return
    now: dict[str, Any] = {v["VariantName"]: None for v in endpoint.production_variants}
    try:  # the config in use may have been deleted: then only a removal can be seen
        current = backend.describe_endpoint_config(endpoint.endpoint_config_name)["ProductionVariants"]
        now.update({v["VariantName"]: v.get("InstanceType") for v in current if v["VariantName"] in now})
    except KeyError:
        pass
    new = {v["VariantName"]: v.get("InstanceType") for v in config["ProductionVariants"]}
    refused = sorted(
        name
        for name in scaled & now.keys()
        if name not in new or (now[name] is not None and new[name] is not None and new[name] != now[name])
    )
    if refused:
        raise ValidationError(
            message=SCALED_VARIANT_MESSAGE.format(variants=", ".join(refused), endpoint=endpoint.endpoint_name)
        )


@_once
def sagemaker_update_endpoint() -> None:
    """Teach moto `UpdateEndpoint` (timed by `endpoint_updates_take_time`, can fail)."""
    from moto.core.common_types import TYPE_RESPONSE
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    def update_endpoint(
        self: SageMakerModelBackend,
        endpoint_name: str,
        endpoint_config_name: str,
        retain: bool,
        exclude: list[dict[str, Any]] | None = None,
    ) -> FakeEndpoint:
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            raise ValidationError(message=f"Could not find endpoint '{endpoint_name}'.")
        _settle(endpoint)
        if endpoint.endpoint_status != "InService":
            raise _in_progress(endpoint)
        try:
            config = self.describe_endpoint_config(endpoint_config_name)
        except KeyError:
            raise ValidationError(message=f"Could not find endpoint_config '{endpoint_config_name}'.") from None
        excluded = {str(p.get("VariantPropertyType")) for p in exclude or []}
        unknown = sorted(excluded - set(VARIANT_PROPERTY_TYPES))
        if unknown:
            raise ValidationError(
                message=f"Invalid VariantPropertyType {', '.join(unknown)}; "
                f"valid values: {' | '.join(VARIANT_PROPERTY_TYPES)}."
            )
        _refuse_to_remove_or_retype_scaled_variants(self, endpoint, config)
        previous = {v["VariantName"]: v for v in endpoint.production_variants}
        variants = endpoint._process_production_variants(config["ProductionVariants"])
        for variant, configured in zip(variants, config["ProductionVariants"], strict=True):
            # moto drops a weight of 0.0 (falsy); AWS serves it, and defaults a missing one to 1.0.
            weight = float(configured.get("InitialVariantWeight", 1.0))
            variant["CurrentWeight"] = variant["DesiredWeight"] = weight
        if retain:
            retained = [
                key
                for prop, keys in (
                    ("DesiredWeight", ("CurrentWeight", "DesiredWeight")),
                    ("DesiredInstanceCount", ("CurrentInstanceCount", "DesiredInstanceCount")),
                )
                if prop not in excluded
                for key in keys
            ]
            for variant in variants:
                kept = previous.get(variant["VariantName"])
                if kept is not None:  # a new variant takes the config's Initial* values
                    for key in retained:
                        if key in kept:
                            variant[key] = kept[key]
        types = {v["VariantName"]: v.get("InstanceType") for v in config["ProductionVariants"]}
        pending = [
            {
                k: v
                for k, v in {
                    "VariantName": variant["VariantName"],
                    "DesiredInstanceCount": variant.get("DesiredInstanceCount"),
                    "DesiredWeight": variant.get("DesiredWeight"),
                    "InstanceType": types.get(variant["VariantName"]),
                }.items()
                if v is not None
            }
            for variant in variants
        ]
        with _settings_lock:
            failure = _failures.pop(endpoint_name, None)
        _begin(
            endpoint,
            copy.deepcopy(endpoint.production_variants),
            variants,
            config=endpoint_config_name,
            failure=failure,
            pending=pending,
            settings=_config_settings(self.endpoint_configs[endpoint_config_name]),
        )
        return endpoint

    def respond(self: SageMakerResponse) -> TYPE_RESPONSE:
        endpoint = self.sagemaker_backend.update_endpoint(  # type: ignore[attr-defined]
            self._get_param("EndpointName"),
            self._get_param("EndpointConfigName"),
            bool(self._get_param("RetainAllVariantProperties", False)),
            list(self._get_param("ExcludeRetainedVariantProperties") or []),
        )
        return 200, {}, json.dumps({"EndpointArn": endpoint.arn})

    SageMakerModelBackend.update_endpoint = update_endpoint  # type: ignore[attr-defined]
    SageMakerResponse.update_endpoint = respond  # type: ignore[attr-defined]


# --- Application Auto Scaling: a new range moves the variant's capacity -------------------


@_once
def scalable_target_range_moves_capacity() -> None:
    """RegisterScalableTarget scales a SageMaker variant into the new range, as AWS does."""
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend

    original = ApplicationAutoscalingBackend.register_scalable_target

    def register(self: Any, namespace: str, r_id: str, dimension: str, *args: Any, **kwargs: Any) -> Any:
        target = original(self, namespace, r_id, dimension, *args, **kwargs)
        if _range_moves_capacity and namespace == "sagemaker" and dimension == SAGEMAKER_DIMENSION:
            _fit_variant(self.account_id, self.region_name, r_id, target.min_capacity, target.max_capacity)
        if _range_moves_capacity and namespace == "sagemaker" and dimension == PROVISIONED_DIMENSION:
            _fit_provisioned(self.account_id, self.region_name, r_id, target.min_capacity, target.max_capacity)
        return target

    ApplicationAutoscalingBackend.register_scalable_target = register  # type: ignore[method-assign]


def _fit_variant(account: str, region: str, resource_id: str, low: int | None, high: int | None) -> None:
    from moto.sagemaker.models import sagemaker_backends

    parts = resource_id.split("/")
    if len(parts) != 4 or parts[0] != "endpoint" or parts[2] != "variant":
        return
    endpoint = sagemaker_backends[account][region].endpoints.get(parts[1])
    if endpoint is None:
        return
    _settle(endpoint)
    if endpoint.endpoint_status != "InService":
        return  # "not active": the range is recorded, the capacity does not change
    before = copy.deepcopy(endpoint.production_variants)
    after = copy.deepcopy(before)
    for variant in after:
        if variant["VariantName"] != parts[3] or variant.get("CurrentInstanceCount") is None:
            continue
        if "CurrentServerlessConfig" in variant:  # a serverless variant has no instances to fit (count 0)
            continue
        current = int(variant["CurrentInstanceCount"])
        wanted = current
        if low is not None:
            wanted = max(wanted, int(low))
        if high is not None:
            wanted = min(wanted, int(high))
        if wanted == current:
            return
        variant["CurrentInstanceCount"] = variant["DesiredInstanceCount"] = wanted
        _begin(endpoint, before, after)
        return


# --- Routes for the local cloud (server mode) --------------------------------------------


def _body(request: Any) -> dict[str, Any]:
    raw = getattr(request, "data", None) or getattr(request, "body", None) or b"{}"
    if isinstance(raw, bytes):
        raw = raw.decode()
    return dict(json.loads(raw or "{}"))


def _route_clock(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    at = _body(request).get("at")
    set_clock(None if at is None else datetime.fromisoformat(at))
    return 200, {}, json.dumps({"now": moto_now().isoformat()})


def _route_update_seconds(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    set_update_seconds(float(_body(request)["seconds"]))
    return 200, {}, json.dumps({"seconds": update_seconds()})


def _route_fail_next_update(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    body = _body(request)
    if body.get("reason"):
        fail_next_update(body["endpoint"], body["reason"])
    else:
        fail_next_update(body["endpoint"])
    return 200, {}, json.dumps({"endpoint": body["endpoint"]})


def _route_range_moves_capacity(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    set_range_moves_capacity(bool(_body(request)["on"]))
    return 200, {}, json.dumps({"on": range_moves_capacity()})


def _route_finish_pipelines(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    body = _body(request)
    ended = finish_pipeline_executions(body["account"], body["region"], body.get("status", "Succeeded"))
    return 200, {}, json.dumps({"ended": ended})


@_once
def local_cloud_routes() -> None:
    """POST routes on moto's /moto-api/ app for the settings above (server mode)."""
    from moto.moto_api._internal import urls

    urls.url_paths[f"{{0}}{ROUTE_PREFIX}/clock"] = _route_clock
    urls.url_paths[f"{{0}}{ROUTE_PREFIX}/update-seconds"] = _route_update_seconds
    urls.url_paths[f"{{0}}{ROUTE_PREFIX}/fail-next-update"] = _route_fail_next_update
    urls.url_paths[f"{{0}}{ROUTE_PREFIX}/range-moves-capacity"] = _route_range_moves_capacity
    urls.url_paths[f"{{0}}{ROUTE_PREFIX}/finish-pipelines"] = _route_finish_pipelines


# --- EventBridge rules ------------------------------------------------------------------


@_once
def eventbridge_rules_as_in_aws() -> None:
    """Schedule rules match no put event; Lambda targets are left to the local cloud."""
    from moto.events.models import Rule

    original = Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if not self.event_pattern.get_pattern():
            return
        lambdas = [t for t in self.targets if ":lambda:" in t["Arn"]]
        if lambdas:
            others = [t for t in self.targets if t not in lambdas]
            saved, self.targets = self.targets, others
            try:
                original(self, original_event, transform_input)
            finally:
                self.targets = saved
            return
        original(self, original_event, transform_input)

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


# --- SageMaker UpdateEndpointWeightsAndCapacities ----------------------------------------


@_once
def endpoint_variants_keep_what_was_not_changed() -> None:
    """UpdateEndpointWeightsAndCapacities keeps each variant's other keys, as AWS does."""
    from moto.sagemaker.models import SageMakerModelBackend

    original = SageMakerModelBackend.update_endpoint_weights_and_capacities

    def update(self: Any, endpoint_name: str, desired_weights_and_capacities: list[dict[str, Any]]) -> Any:
        endpoint = self.endpoints.get(endpoint_name)
        before = {v["VariantName"]: dict(v) for v in endpoint.production_variants} if endpoint else {}
        result = original(self, endpoint_name, desired_weights_and_capacities)
        for variant in self.endpoints[endpoint_name].production_variants:
            for key, value in before.get(variant["VariantName"], {}).items():
                if variant.get(key) is None:  # moto writes None for what the call did not set
                    variant[key] = value
        return result

    SageMakerModelBackend.update_endpoint_weights_and_capacities = update  # type: ignore[method-assign]


# --- Serverless variants' concurrency ------------------------------------------------------

PROVISIONED_DIMENSION = "sagemaker:variant:DesiredProvisionedConcurrency"
SERVERLESS_UPDATE_MESSAGES = {
    "range": "ServerlessUpdateConfig.{key} of variant {variant} must be 1 to 200, not {value}.",
    "above": "ProvisionedConcurrency {provisioned} of variant {variant} is above its MaxConcurrency {maximum}.",
    "not-serverless": "Variant {variant} is not serverless: it takes DesiredInstanceCount, not ServerlessUpdateConfig.",
}


def _serverless_config(variant: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """The variant's serverless config with `update` applied, or a ValidationError (AWS's rules)."""
    from moto.sagemaker.exceptions import ValidationError

    name = variant["VariantName"]
    if not variant.get("CurrentServerlessConfig"):
        raise ValidationError(message=SERVERLESS_UPDATE_MESSAGES["not-serverless"].format(variant=name))
    config = dict(variant["CurrentServerlessConfig"])
    for key in ("MaxConcurrency", "ProvisionedConcurrency"):
        value = update.get(key)
        if value is None:
            continue
        if not 1 <= int(value) <= 200:
            message = SERVERLESS_UPDATE_MESSAGES["range"].format(key=key, variant=name, value=value)
            raise ValidationError(message=message)
        config[key] = int(value)
    if config.get("ProvisionedConcurrency") is not None and config["ProvisionedConcurrency"] > config["MaxConcurrency"]:
        message = SERVERLESS_UPDATE_MESSAGES["above"].format(
            provisioned=config["ProvisionedConcurrency"], variant=name, maximum=config["MaxConcurrency"]
        )
        raise ValidationError(message=message)
    return config


@_once
def serverless_concurrency_updates() -> None:
    """ServerlessUpdateConfig changes a serverless variant's concurrency; see the docstring."""
    import botocore.session
    from moto.applicationautoscaling import models as scaling_models
    from moto.applicationautoscaling import responses as scaling_responses
    from moto.sagemaker.models import SageMakerModelBackend

    original = SageMakerModelBackend.update_endpoint_weights_and_capacities

    def update(self: Any, endpoint_name: str, desired_weights_and_capacities: list[dict[str, Any]]) -> Any:
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            return original(self, endpoint_name, desired_weights_and_capacities)
        variants = {v["VariantName"]: v for v in endpoint.production_variants}
        configs = {
            str(d["VariantName"]): _serverless_config(variants[d["VariantName"]], d["ServerlessUpdateConfig"])
            for d in desired_weights_and_capacities
            if d.get("ServerlessUpdateConfig") and d.get("VariantName") in variants
        }
        result = original(self, endpoint_name, desired_weights_and_capacities)
        for variant in endpoint.production_variants:
            if variant["VariantName"] in configs:
                variant["CurrentServerlessConfig"] = configs[variant["VariantName"]]
        return result

    setattr(SageMakerModelBackend, "update_endpoint_weights_and_capacities", update)  # noqa: B010 - patched as the others
    model = botocore.session.get_session().get_service_model("application-autoscaling")
    # moto reads only `[d.value for d in ScalableDimensionValueSet]`: AWS's list, in that form.
    dimensions = [SimpleNamespace(value=d) for d in model.shape_for("ScalableDimension").enum]
    for module in (scaling_models, scaling_responses):  # both check a dimension against it
        setattr(module, "ScalableDimensionValueSet", dimensions)  # noqa: B010


def _fit_provisioned(account: str, region: str, resource_id: str, low: int | None, high: int | None) -> None:
    """A serverless variant's ProvisionedConcurrency moved into its new range (AWS's rule, as `_fit_variant`)."""
    from moto.sagemaker.models import sagemaker_backends

    parts = resource_id.split("/")
    if len(parts) != 4 or parts[0] != "endpoint" or parts[2] != "variant":
        return
    endpoint = sagemaker_backends[account][region].endpoints.get(parts[1])
    if endpoint is None:
        return
    _settle(endpoint)
    if endpoint.endpoint_status != "InService":
        return
    before = copy.deepcopy(endpoint.production_variants)
    after = copy.deepcopy(before)
    for variant in after:
        config = variant.get("CurrentServerlessConfig") or {}
        if variant["VariantName"] != parts[3] or config.get("ProvisionedConcurrency") is None:
            continue
        current = int(config["ProvisionedConcurrency"])
        wanted = max(current, int(low)) if low is not None else current
        wanted = min(wanted, int(high)) if high is not None else wanted
        if wanted != current:
            variant["CurrentServerlessConfig"] = {**config, "ProvisionedConcurrency": wanted}
            _begin(endpoint, before, after)
        return


# --- SageMaker endpoint kinds --------------------------------------------------------------

SHADOW_VARIANTS_MESSAGE = (
    "An endpoint configuration with ShadowProductionVariants has exactly one production variant and "
    "one shadow variant; got {production} and {shadow}."
)
# Summary keys a variant of the config carries to DescribeEndpoint as they are (ProductionVariantSummary).
_SUMMARY_KEYS = ("ManagedInstanceScaling", "RoutingConfig")


@functools.cache
def _instance_types() -> frozenset[str]:
    """AWS's instance types for a variant: botocore's ProductionVariantInstanceType enum."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return frozenset(model.shape_for("ProductionVariantInstanceType").enum)


def _variant_summaries(production_variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """DescribeEndpoint's summary of each configured variant, as AWS gives it once InService."""
    summaries = []
    for configured in production_variants:
        weight = configured.get("InitialVariantWeight")
        weight = 1.0 if weight is None else float(weight)
        summary: dict[str, Any] = {"VariantName": configured["VariantName"], "CurrentWeight": weight}
        summary["DesiredWeight"] = weight
        if configured.get("ServerlessConfig"):
            summary["CurrentInstanceCount"] = 0
            summary["CurrentServerlessConfig"] = copy.deepcopy(configured["ServerlessConfig"])
        elif configured.get("InitialInstanceCount") is not None:
            count = int(configured["InitialInstanceCount"])
            summary["CurrentInstanceCount"] = summary["DesiredInstanceCount"] = count
        for key in _SUMMARY_KEYS:
            if key in configured:
                summary[key] = copy.deepcopy(configured[key])
        summaries.append(summary)
    return summaries


def _capture_summary(configured: dict[str, Any] | None) -> dict[str, Any] | None:
    """DescribeEndpoint's `DataCaptureConfig` (a DataCaptureConfigSummary, botocore sagemaker
    service-2.json) for an endpoint config's DataCaptureConfig, or None for a config without one.
    EnableCapture "defaults to enabled" (DataCaptureConfig); CaptureStatus, "whether data capture
    is currently functional", is Started while capture is enabled and Stopped when it is not (our
    reading: AWS does not say what stops it otherwise); CurrentSamplingPercentage is the config's
    InitialSamplingPercentage. KmsKeyId only when the config names one: real DescribeEndpoint
    leaves it out otherwise, though the shape marks it required (docs/aws-behaviours.md,
    "Data capture and ground truth formats")."""
    if not configured:
        return None  # moto keeps a config without one as {}: DescribeEndpoint shows none
    enabled = bool(configured.get("EnableCapture", True))
    summary: dict[str, Any] = {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": int(configured.get("InitialSamplingPercentage", 0)),
        "DestinationS3Uri": configured.get("DestinationS3Uri"),
    }
    if configured.get("KmsKeyId"):
        summary["KmsKeyId"] = configured["KmsKeyId"]
    return summary


def _config_settings(config: Any) -> dict[str, Any]:
    """The endpoint's attributes an endpoint config sets besides its production variants, as
    DescribeEndpoint shows them (None: left out): the data capture summary, the shadow variants'
    summaries and the async inference config. CreateEndpoint sets them; UpdateEndpoint replaces
    them once the new config serves (DescribeEndpointOutput: DataCaptureConfig is "the currently
    active data capture configuration")."""
    shadows = getattr(config, "shadow_production_variants", None)
    return {
        "data_capture_config": _capture_summary(config.data_capture_config),
        "shadow_production_variants": _variant_summaries(shadows) if shadows else None,
        "async_inference_config": copy.deepcopy(config.async_inference_config) or None,
    }


@_once
def endpoint_kinds_as_in_aws() -> None:
    """Serverless, async, shadow and inference-component endpoints as AWS makes and describes them."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    original_create_config = SageMakerModelBackend.create_endpoint_config
    original_create_endpoint = SageMakerModelBackend.create_endpoint

    def validate_resources(self: Any, production_variants: list[dict[str, Any]]) -> None:
        for variant in production_variants:
            if "InstanceType" in variant:
                if variant["InstanceType"] not in _instance_types():
                    raise ValidationError(
                        message=f"Value '{variant['InstanceType']}' at 'instanceType' failed to satisfy constraint: "
                        "Member must satisfy enum value set: ProductionVariantInstanceType"
                    )
            elif "ServerlessConfig" in variant:
                # moto's memory-size check; it reads nothing of the config (called for shadows before one exists).
                FakeEndpointConfig.validate_serverless_config(self, variant["ServerlessConfig"])
            else:
                raise ValidationError(
                    message=f"Invalid Keys for ProductionVariant: received {variant.keys()} but expected it to "
                    "contain one of ['InstanceType', 'ServerlessConfig']"
                )

    def validate_models(self: Any, production_variants: list[dict[str, Any]]) -> None:
        named = [v for v in production_variants if v.get("ModelName") is not None]
        for variant in named:
            if variant["ModelName"] not in self._models:
                arn = f"arn:aws:sagemaker:{self.region_name}:{self.account_id}:model/{variant['ModelName']}"
                raise ValidationError(message=f"Could not find model '{arn}'.")

    def create_config(
        self: Any,
        endpoint_config_name: str,
        production_variants: list[dict[str, Any]],
        data_capture_config: dict[str, Any],
        async_inference_config: dict[str, Any],
        tags: list[dict[str, str]],
        kms_key_id: str,
        shadow_production_variants: list[dict[str, Any]] | None = None,
        execution_role_arn: str | None = None,
    ) -> Any:
        shadows = list(shadow_production_variants or [])
        if shadows:
            if len(production_variants or []) != 1 or len(shadows) != 1:
                raise ValidationError(
                    message=SHADOW_VARIANTS_MESSAGE.format(
                        production=len(production_variants or []), shadow=len(shadows)
                    )
                )
            validate_resources(FakeEndpointConfig, shadows)
            self.validate_production_variants(shadows)
        config: Any = original_create_config(
            self,
            endpoint_config_name=endpoint_config_name,
            production_variants=production_variants,
            data_capture_config=data_capture_config,
            async_inference_config=async_inference_config,
            tags=tags,
            kms_key_id=kms_key_id,
        )
        config.shadow_production_variants = shadows or None  # None keys are left out of the response
        config.execution_role_arn = execution_role_arn
        return config

    def respond_create_config(self: Any) -> Any:
        from moto.core.responses import ActionResult

        config = self.sagemaker_backend.create_endpoint_config(
            endpoint_config_name=self._get_param("EndpointConfigName"),
            async_inference_config=self._get_param("AsyncInferenceConfig"),
            production_variants=self._get_param("ProductionVariants"),
            data_capture_config=self._get_param("DataCaptureConfig"),
            tags=self._get_param("Tags"),
            kms_key_id=self._get_param("KmsKeyId"),
            shadow_production_variants=self._get_param("ShadowProductionVariants"),
            execution_role_arn=self._get_param("ExecutionRoleArn"),
        )
        return ActionResult({"EndpointConfigArn": config.endpoint_config_arn})

    def create_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str, tags: Any) -> Any:
        endpoint: Any = original_create_endpoint(self, endpoint_name, endpoint_config_name, tags)
        for attribute, value in _config_settings(self.endpoint_configs[endpoint_config_name]).items():
            setattr(endpoint, attribute, value)
        return endpoint

    def summaries(self: Any, production_variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _variant_summaries(production_variants)

    FakeEndpointConfig.validate_production_variants = validate_resources  # type: ignore[method-assign]
    SageMakerModelBackend.validate_production_variants = validate_models  # type: ignore[method-assign]
    SageMakerModelBackend.create_endpoint_config = create_config  # type: ignore[method-assign]
    SageMakerModelBackend.create_endpoint = create_endpoint  # type: ignore[method-assign]
    SageMakerResponse.create_endpoint_config = respond_create_config  # type: ignore[method-assign]
    FakeEndpoint._process_production_variants = summaries  # type: ignore[method-assign]


# --- SageMaker names are taken once ---------------------------------------------------------


@_once
def sagemaker_names_taken_once() -> None:
    """CreateModel and CreateEndpointConfig refuse a name that exists, as AWS does
    (ValidationException `Cannot create already existing model "<arn>".`, and `... endpoint
    configuration "<arn>".`); moto 5 overwrites the model, or the config, silently. The rollouts
    create under names derived from the incident and take "already exist" as their own first
    call having gone through (`rollout/deploy.create_once`): without this, a doubled create
    would be invisible to the tests."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import SageMakerModelBackend

    create_model = SageMakerModelBackend.create_model
    create_config = SageMakerModelBackend.create_endpoint_config

    def model(self: Any, model_name: str, *args: Any, **kwargs: Any) -> Any:
        if model_name in self._models:
            raise ValidationError(message=f'Cannot create already existing model "{self._models[model_name].arn}".')
        return create_model(self, model_name, *args, **kwargs)

    def config(self: Any, endpoint_config_name: str, *args: Any, **kwargs: Any) -> Any:
        if endpoint_config_name in self.endpoint_configs:
            arn = self.endpoint_configs[endpoint_config_name].endpoint_config_arn
            raise ValidationError(message=f'Cannot create already existing endpoint configuration "{arn}".')
        return create_config(self, endpoint_config_name, *args, **kwargs)

    SageMakerModelBackend.create_model = model  # type: ignore[method-assign]
    SageMakerModelBackend.create_endpoint_config = config  # type: ignore[method-assign]


# --- SageMaker endpoint ARNs are lower case ------------------------------------------------


@_once
def endpoint_arns_as_in_aws() -> None:
    """An endpoint's ARN carries its name in lower case, as AWS writes it (`Churn-Prod` is
    `endpoint/churn-prod`; docs/aws-behaviours.md, "SageMaker APIs"), in every answer that gives
    it (CreateEndpoint, DescribeEndpoint, ListEndpoints, Search, the tagging API's GetResources);
    moto 5 writes the name as given. ListTags, AddTags and DeleteTags find the endpoint by that
    ARN. Without this, a comparison of endpoint ARNs, or of a name with one, that breaks for an
    endpoint named with capitals would pass in the tests."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend

    create = FakeEndpoint.__init__
    resource_of = SageMakerModelBackend._get_resource_from_arn

    def endpoint(self: Any, account_id: str, region_name: str, endpoint_name: str, *args: Any, **kwargs: Any) -> None:
        create(self, account_id, region_name, endpoint_name, *args, **kwargs)
        self.arn = FakeEndpoint.arn_formatter(endpoint_name.lower(), account_id, region_name)

    def resource(self: Any, arn: str) -> Any:
        if arn.split(":")[-1].partition("/")[0] != "endpoint":
            return resource_of(self, arn)
        found = next((e for e in self.endpoints.values() if e.arn == arn), None)
        if found is None:  # moto's own lookup fails with an AttributeError here
            raise ValidationError(message=f"Could not find endpoint with ARN {arn}")
        return found

    FakeEndpoint.__init__ = endpoint  # type: ignore[method-assign]
    SageMakerModelBackend._get_resource_from_arn = resource  # type: ignore[method-assign]


# --- SageMaker model package versioned names --------------------------------------------


@_once
def versioned_model_package_names() -> None:
    """DescribeModelPackage takes a versioned name (`group/3`), as AWS does.

    A model's container may name its package that way (`ModelPackageName` accepts a name or
    an ARN, and versioned packages are named `<group>/<version>`); the rollback resolves it
    to the ARN UpdateModelPackage needs (docs/aws-behaviours.md, "SageMaker APIs"). moto 5.2
    knows only unversioned names and ARNs.
    """
    from moto.sagemaker.models import SageMakerModelBackend

    original = SageMakerModelBackend.describe_model_package

    def describe(self: Any, model_package_name: str) -> Any:
        group, _, version = model_package_name.rpartition("/")
        if group and version.isdigit() and not model_package_name.startswith("arn:"):
            for package in self.model_packages.values():
                if package.model_package_group_name == group and str(package.model_package_version) == version:
                    return package
        return original(self, model_package_name)

    SageMakerModelBackend.describe_model_package = describe  # type: ignore[method-assign]


# --- SageMaker model packages ---------------------------------------------------------------

# UpdateModelPackageInput.ModelPackageArn (botocore sagemaker service-2.json).
_MODEL_PACKAGE_ARN = re.compile(r"arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]{9,16}:[0-9]{12}:model-package/[\S]{1,2048}")


@_once
def model_packages_as_in_aws() -> None:
    """Model package times follow `moto_now()`; UpdateModelPackage changes only what it is given."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import ModelPackage, SageMakerModelBackend

    original_create = SageMakerModelBackend.create_model_package

    def create(self: Any, *args: Any, **kwargs: Any) -> str:
        arn = str(original_create(self, *args, **kwargs))
        package = self.model_packages[arn]
        created = _naive(moto_now())
        before = [p.creation_time for p in self.model_packages.values() if p is not package]
        if before and created <= max(before):  # a later package is created later, also on a frozen clock
            created = max(before) + timedelta(milliseconds=1)
        package.creation_time = created
        return arn

    def modifications_done(self: Any) -> None:
        self.last_modified_time = _naive(moto_now())
        self.last_modified_by = self.created_by

    def update(
        self: Any,
        model_package_arn: str,
        model_approval_status: str | None,
        approval_description: str | None,
        customer_metadata_properties: dict[str, str] | None,
        customer_metadata_properties_to_remove: list[str] | None,
        additional_inference_specifications_to_add: list[Any] | None,
    ) -> str:
        if not _MODEL_PACKAGE_ARN.fullmatch(str(model_package_arn)):
            raise ValidationError(
                f"1 validation error detected: Value '{model_package_arn}' at 'modelPackageArn' failed to satisfy "
                f"constraint: Member must satisfy regular expression pattern: {_MODEL_PACKAGE_ARN.pattern}"
            )
        package = self.model_packages.get(model_package_arn)
        if package is None:
            raise ValidationError(f"Model package {model_package_arn} not found")
        if model_approval_status is not None:
            package.set_model_approval_status(model_approval_status)  # validates the value
        if approval_description is not None:
            package.approval_description = approval_description
        if customer_metadata_properties or customer_metadata_properties_to_remove:
            merged = {**(package.customer_metadata_properties or {}), **(customer_metadata_properties or {})}
            for key in customer_metadata_properties_to_remove or []:
                merged.pop(key, None)
            package.customer_metadata_properties = merged or None
        if additional_inference_specifications_to_add:
            package.add_additional_inference_specifications(additional_inference_specifications_to_add)
        package.modifications_done()
        return str(package.arn)

    SageMakerModelBackend.create_model_package = create  # type: ignore[method-assign]
    ModelPackage.modifications_done = modifications_done  # type: ignore[method-assign]
    SageMakerModelBackend.update_model_package = update  # type: ignore[method-assign]


# --- CloudWatch alarm state times ---------------------------------------------------------


@_once
def alarm_state_times_follow_the_clock() -> None:
    """An alarm's StateUpdatedTimestamp is taken from `moto_now()`.

    The control loop's sweep reads when an alarm changed state (DescribeAlarms) to open an
    incident whose delivery was lost, to close one whose OK was lost, and to know how long
    the scale-up alarms have been OK before capacity is given back. In AWS that time is the
    same instant as the transition's notification. The local cloud delivers notifications
    at a simulated time while moto stamps the state change with the server's real time, so
    the two would disagree by hours; with this extension they agree.
    """
    from moto.cloudwatch.models import Alarm

    original = Alarm.update_state

    def update_state(self: Any, reason: str, reason_data: str, state_value: str) -> None:
        original(self, reason, reason_data, state_value)
        self.state_updated_timestamp = _naive(moto_now())

    Alarm.update_state = update_state  # type: ignore[method-assign]


@_once
def alarm_transition_times_as_in_aws() -> None:
    """DescribeAlarms gives StateTransitionedTimestamp: the last change of StateValue.

    Installed after `alarm_state_times_follow_the_clock`, whose `update_state` it wraps.
    """
    from moto.cloudwatch.models import Alarm

    original_init = Alarm.__init__
    original_update = Alarm.update_state

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.state_transitioned_timestamp = self.state_updated_timestamp  # one instant: the creation

    def update_state(self: Any, reason: str, reason_data: str, state_value: str) -> None:
        before = self.state_value
        original_update(self, reason, reason_data, state_value)
        if state_value != before:
            self.state_transitioned_timestamp = _naive(moto_now())

    Alarm.__init__ = init  # type: ignore[method-assign]
    Alarm.update_state = update_state  # type: ignore[method-assign]


# --- CloudWatch alarm history ----------------------------------------------------------------

HISTORY_MAX_RECORDS = 100  # MaxRecords' valid range is 1-100 (API reference, DescribeAlarmHistory)
HISTORY_DATA_MAX = 4095  # HistoryData's length constraint (AlarmHistoryItem)


def _state_entry(value: str, reason: str, reason_data: str | None) -> dict[str, Any]:
    """One side of a StateUpdate's HistoryData: the state, its reason, its reason data if any."""
    entry: dict[str, Any] = {"stateValue": value, "stateReason": reason}
    try:
        data = json.loads(reason_data) if reason_data else None
    except ValueError:
        data = None
    if isinstance(data, dict) and data:
        entry["stateReasonData"] = data
    return entry


def state_update_item(
    alarm: str, kind: str, at: datetime, old: tuple[str, str, str | None], new: tuple[str, str, str | None]
) -> dict[str, Any]:
    """An AlarmHistoryItem of a StateValue change from `old` to `new` ((value, reason, reason data))."""
    history: dict[str, Any] = {"version": "1.0", "oldState": _state_entry(*old), "newState": _state_entry(*new)}
    text = json.dumps(history, separators=(",", ":"))
    if len(text) > HISTORY_DATA_MAX:  # AWS's bound: the reason data (the datapoints) goes first
        for side in ("oldState", "newState"):
            history[side].pop("stateReasonData", None)
        text = json.dumps(history, separators=(",", ":"))[:HISTORY_DATA_MAX]
    return {
        "AlarmName": alarm,
        "AlarmType": kind,
        "Timestamp": at,
        "HistoryItemType": "StateUpdate",
        "HistorySummary": f"Alarm updated from {old[0]} to {new[0]}",
        "HistoryData": text,
    }


def _alarm_history(backend: Any) -> list[dict[str, Any]]:
    """The history items of a CloudWatch backend (kept on it: a reset backend has none)."""
    found: list[dict[str, Any]] | None = getattr(backend, "model_medic_alarm_history", None)
    if found is None:
        found = []
        backend.model_medic_alarm_history = found
    return found


def _moment(value: Any) -> datetime | None:
    """A request's timestamp as the protocols carry it (datetime, epoch seconds or ISO 8601), in UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, int | float) or (isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value)):
        at = datetime.fromtimestamp(float(value), UTC)
    else:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def alarm_history_page(items: list[dict[str, Any]], request: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """DescribeAlarmHistory's answer to `request` (its parameters) over `items`: one page and the next token."""
    from moto.cloudwatch.exceptions import ValidationError

    kinds = set(request.get("AlarmTypes") or ["MetricAlarm"])
    start, end = _moment(request.get("StartDate")), _moment(request.get("EndDate"))
    found = [
        item
        for item in items
        if request.get("AlarmName") in (None, "", item["AlarmName"])
        and item["AlarmType"] in kinds
        and request.get("HistoryItemType") in (None, "", item["HistoryItemType"])
        and (start is None or item["Timestamp"] >= start)
        and (end is None or item["Timestamp"] <= end)
    ]
    found.sort(key=lambda item: item["Timestamp"], reverse=request.get("ScanBy") != "TimestampAscending")
    size = int(request.get("MaxRecords") or HISTORY_MAX_RECORDS)
    if not 1 <= size <= HISTORY_MAX_RECORDS:
        raise ValidationError(f"MaxRecords must be between 1 and {HISTORY_MAX_RECORDS}, not {size}.")
    token = str(request.get("NextToken") or "0")
    if not token.isdigit() or int(token) > len(found):
        raise _invalid_next_token(token)
    first = int(token)
    following = first + size
    return found[first:following], (str(following) if following < len(found) else None)


def _invalid_next_token(token: str) -> Exception:
    from moto.cloudwatch.exceptions import CloudWatchException

    return CloudWatchException("InvalidNextToken", f"The next token {token!r} is not valid.")


@_once
def alarm_history_as_in_aws() -> None:
    """Every change of an alarm's StateValue is a StateUpdate history item; DescribeAlarmHistory answers them.

    Installed after `alarm_transition_times_as_in_aws`: an item's Timestamp is the transition's.
    """
    from moto.cloudwatch.models import Alarm, cloudwatch_backends
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.responses import ActionResult

    original = Alarm.update_state

    def update_state(self: Any, reason: str, reason_data: str, state_value: str) -> None:
        old = (self.state_value, self.state_reason, self.state_reason_data)
        original(self, reason, reason_data, state_value)
        if state_value == old[0]:
            return
        at = getattr(self, "state_transitioned_timestamp", None) or _naive(moto_now())
        account = self.alarm_arn.split(":")[4]
        kind = "CompositeAlarm" if self.rule is not None else "MetricAlarm"
        item = state_update_item(self.name, kind, at.replace(tzinfo=UTC), old, (state_value, reason, reason_data))
        _alarm_history(cloudwatch_backends[account][self.region_name]).append(item)

    def describe_alarm_history(self: CloudWatchResponse) -> ActionResult:
        request = {
            name: self._get_param(name)
            for name in ("AlarmName", "HistoryItemType", "StartDate", "EndDate", "MaxRecords", "NextToken", "ScanBy")
        }
        request["AlarmTypes"] = self._get_param("AlarmTypes", [])
        page, token = alarm_history_page(_alarm_history(self.cloudwatch_backend), request)
        result: dict[str, Any] = {"AlarmHistoryItems": page}
        if token is not None:
            result["NextToken"] = token
        return ActionResult(result)

    Alarm.update_state = update_state  # type: ignore[method-assign]
    CloudWatchResponse.describe_alarm_history = describe_alarm_history  # type: ignore[attr-defined]


# --- CloudWatch composite alarms -------------------------------------------------------------

# A composite alarm's rule names the alarms it depends on as ALARM(...), OK(...) or
# INSUFFICIENT_DATA(...), each by name or ARN, quoted or not (API reference, PutCompositeAlarm).
_RULE_REFERENCE = re.compile(r'\b(?:ALARM|OK|INSUFFICIENT_DATA)\(\s*(?:"([^"]+)"|([^()\s"]+))\s*\)')


def composite_children(rule: str) -> set[str]:
    """The names of the alarms a composite alarm's rule depends on (an ARN taken to its name)."""
    named = {quoted or bare for quoted, bare in _RULE_REFERENCE.findall(rule)}
    return {name.split(":alarm:", 1)[1] if ":alarm:" in name else name for name in named}


def composite_refusal(names: list[str]) -> str:
    """AWS's message when DeleteAlarms is refused because composite alarms depend on `names`."""
    them = "it" if len(names) == 1 else "them"
    return f"Cannot delete {','.join(names)} as there are composite alarm(s) depending on {them}."


@_once
def composite_alarms_as_in_aws() -> None:
    """PutCompositeAlarm is answered, and DeleteAlarms refuses an alarm a composite alarm depends on."""
    from moto.cloudwatch.exceptions import ValidationError
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.cloudwatch.responses import CloudWatchResponse

    def put_composite_alarm(self: CloudWatchResponse) -> Any:
        # moto's PutMetricAlarm reads AlarmRule and keeps the alarm as a composite one: DescribeAlarms
        # lists it under CompositeAlarms.
        return self.put_metric_alarm()

    original_delete = CloudWatchBackend.delete_alarms

    def delete_alarms(self: Any, alarm_names: list[str]) -> None:
        asked = set(alarm_names)
        depended_on: set[str] = set()
        for alarm in self.alarms.values():
            if alarm.rule is not None and alarm.name not in asked:
                depended_on |= composite_children(alarm.rule)
        refused = [name for name in dict.fromkeys(alarm_names) if name in depended_on and name in self.alarms]
        if refused:  # the whole call is refused: nothing is deleted
            raise ValidationError(composite_refusal(refused))
        original_delete(self, alarm_names)

    CloudWatchResponse.put_composite_alarm = put_composite_alarm  # type: ignore[attr-defined]
    CloudWatchBackend.delete_alarms = delete_alarms  # type: ignore[method-assign]


# --- CloudWatch percentile statistics ------------------------------------------------------

# "pNN.NN: the value of the specified percentile. You can use any percentile, using up to two
# decimal places (for example, p95.45)"; "Specify a value between p0.0 and p100" (CloudWatch
# User Guide, "Statistics definitions"; API reference, ExtendedStatistic).
_PERCENTILE = re.compile(r"p(\d{1,3}(?:\.\d{1,2})?)")
_SIMPLE_STATS = frozenset({"SampleCount", "Average", "Sum", "Minimum", "Maximum"})
UNSUPPORTED_STAT_MESSAGE = (
    "The local cloud answers Stat SampleCount, Average, Sum, Minimum, Maximum and percentiles "
    "p0 to p100 with up to two decimals (p99, p95.45), not {stat!r} (localcloud/moto_extensions.py)."
)


def percentile_of(stat: str) -> Decimal | None:
    """The percentile a `pNN.NN` statistic asks for (0..100), None if `stat` is not one."""
    match = _PERCENTILE.fullmatch(stat)
    return Decimal(match.group(1)) if match else None


def nearest_rank(weighted: list[tuple[float, Decimal]], percentile: Decimal) -> float | None:
    """The smallest value with at least `percentile` % of the weight at or below it.

    `weighted` holds (value, how many times it was seen). p0 is the minimum, p100 the
    maximum; every answer is a value that was put (nearest rank, numpy's "inverted_cdf").
    """
    total = sum((weight for _, weight in weighted), Decimal(0))
    if total <= 0:
        return None
    rank = percentile * total / 100
    seen = Decimal(0)
    ordered = sorted(weighted)
    for value, weight in ordered:
        seen += weight
        if seen >= rank and seen > 0:
            return value
    return ordered[-1][0]


def _percentile_samples(data: list[Any]) -> list[tuple[float, Decimal]] | None:
    """What a period's datapoints give a percentile: (value, count) pairs, or None.

    "CloudWatch needs raw data points to calculate percentile statistics. If you publish
    data using a statistic set instead, you can only retrieve percentile statistics for
    this data if ... the SampleCount value of the statistic set is 1 [or] the Min and the
    Max values of the statistic set are equal. Percentile statistics are not available for
    metrics when any of the metric values are negative numbers." (GetMetricStatistics API
    reference.) None: no percentile for the period.
    """
    from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum

    samples: list[tuple[float, Decimal]] = []
    for datum in data:
        if isinstance(datum, MetricDatum):
            samples.append((float(datum.value), Decimal(1)))
        elif isinstance(datum, MetricAggregatedDatum):
            count = Decimal(str(datum.sample_count))
            if count == 1 or float(datum.min) == float(datum.max):
                samples.append((float(datum.min), count))
            else:
                return None
    if not samples or any(value < 0 for value, _ in samples):
        return None
    return samples


def _dimension_set(dimensions: Any) -> frozenset[tuple[str, str]]:
    return frozenset(
        (str(d["Name"]), str(d["Value"])) if isinstance(d, dict) else (str(d.name), str(d.value))
        for d in dimensions or []
    )


def _simple_statistic(stat: str) -> Callable[[list[Any]], float | None]:
    """moto's own computation of SampleCount, Average, Sum, Minimum or Maximum."""
    from moto.cloudwatch.models import Statistics

    def compute(data: list[Any]) -> float | None:
        statistics = Statistics([stat], datetime.now())
        statistics.metric_data = data
        value = statistics.get_statistics_for_type(stat)
        return None if value is None else float(value)

    return compute


def _percentile_statistic(percentile: Decimal) -> Callable[[list[Any]], float | None]:
    def compute(data: list[Any]) -> float | None:
        samples = _percentile_samples(data)
        return None if samples is None else nearest_rank(samples, percentile)

    return compute


def _metric_stat_result(
    window: list[Any],
    query: dict[str, Any],
    compute: Callable[[list[Any]], float | None],
    start: datetime,
    end: datetime,
    scan_by: str,
) -> dict[str, Any]:
    """One MetricStat query over the request's datapoints (`window`, those in [start, end)): the
    metric's datapoints period by period (as moto steps from `start`), `compute`d."""
    metric_stat = query["MetricStat"]
    metric = metric_stat["Metric"]
    dimensions = _dimension_set(metric.get("Dimensions"))
    unit = metric_stat.get("Unit")
    period = timedelta(seconds=int(metric_stat["Period"]))
    by_period: dict[int, list[Any]] = {}
    for md in window:
        if (
            md.namespace == metric["Namespace"]
            and md.name == metric["MetricName"]
            and _dimension_set(md.dimensions) == dimensions
            and (not unit or md.unit == unit)
        ):
            by_period.setdefault((md.timestamp - start) // period, []).append(md)
    values: list[float] = []
    timestamps: list[datetime] = []
    for index in sorted(by_period):
        value = compute(by_period[index])
        if value is not None:
            values.append(value)
            timestamps.append(start + index * period)
    if scan_by == "TimestampDescending":
        values.reverse()
        timestamps.reverse()
    return {
        "id": query["Id"],
        "label": query.get("Label") or f"{metric['MetricName']} {metric_stat['Stat']}",
        "values": values,
        "timestamps": timestamps,
        "status_code": "Complete",
    }


@_once
def cloudwatch_list_metrics_once_each() -> None:
    """ListMetrics lists each metric (namespace, name, dimension set) once, as AWS does."""
    from moto.cloudwatch.models import CloudWatchBackend

    original = CloudWatchBackend.get_filtered_metrics

    def get_filtered_metrics(self: Any, metric_name: str, namespace: str, dimensions: list[dict[str, str]]) -> Any:
        seen: set[tuple[str, str, frozenset[tuple[str | None, str | None]]]] = set()
        once = []
        for metric in original(self, metric_name, namespace, dimensions):
            key = (metric.namespace, metric.name, frozenset((d.name, d.value) for d in metric.dimensions))
            if key not in seen:
                seen.add(key)
                once.append(metric)
        return once

    CloudWatchBackend.get_filtered_metrics = get_filtered_metrics  # type: ignore[method-assign]


# --- CloudWatch dimension names and values ---------------------------------------------------


def dimension_problem(part: str, text: str) -> str | None:
    """Why CloudWatch refuses `text` as a dimension's Name or Value, in words for after "the
    parameter ...": None when it takes it (botocore cloudwatch service-2.json, Dimension)."""
    if not all(" " <= c <= "~" for c in text):
        return "contains non-ASCII characters."
    longest = 255 if part == "Name" else 1024
    if not text.strip():
        return "must include at least one non-whitespace character."
    if len(text) > longest:
        return f"must be at most {longest} characters long."
    if part == "Name" and text.startswith(":"):
        return "must not start with a colon."
    return None


@_once
def cloudwatch_dimensions_as_in_aws() -> None:
    """PutMetricData refuses the whole call for one dimension CloudWatch does not take, as AWS does."""
    from moto.cloudwatch.exceptions import InvalidParameterValue
    from moto.cloudwatch.models import CloudWatchBackend

    original = CloudWatchBackend.put_metric_data

    def put_metric_data(self: Any, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        for datum, metric in enumerate(metric_data, start=1):
            for dimension, pair in enumerate(metric.get("Dimensions") or [], start=1):
                for part in ("Name", "Value"):
                    problem = dimension_problem(part, str(pair.get(part, "")))
                    if problem is not None:
                        raise InvalidParameterValue(
                            f"The value for parameter MetricData.member.{datum}.Dimensions.member.{dimension}.{part} "
                            + problem
                        )
        original(self, namespace, metric_data)

    CloudWatchBackend.put_metric_data = put_metric_data  # type: ignore[method-assign]


# --- DynamoDB Query: BETWEEN's bounds in order -----------------------------------------------


@_once
def dynamodb_between_bounds_in_order() -> None:
    """A Query whose sort key BETWEEN has its lower bound above its upper one is refused, as AWS does."""
    from moto.dynamodb.exceptions import MockValidationException
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = DynamoDBBackend.query

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        for _name, comparison, values in kwargs.get("range_key_conditions") or []:
            if str(comparison).upper() == "BETWEEN" and len(values) == 2:
                low, high = DynamoType(values[0]), DynamoType(values[1])
                if low.type == high.type and low > high:
                    raise MockValidationException(
                        "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater "
                        "than or equal to lower bound; lower bound operand: "
                        f"AttributeValue: {{{low.type}:{low.value}}}, "
                        f"upper bound operand: AttributeValue: {{{high.type}:{high.value}}}"
                    )
        return original(self, *args, **kwargs)

    DynamoDBBackend.query = query  # type: ignore[method-assign]


_HIGH_RESOLUTION_PERIODS = (5, 10, 20, 30)
_metric_data_page_size: int | None = None  # a test's own default MaxDatapoints (None: AWS's 100,800)


def set_metric_data_page_size(points: int | None) -> None:
    """GetMetricData pages after `points` datapoints when the request gives no MaxDatapoints
    (None: AWS's default, 100,800), so a test can make the product's NextToken loops page."""
    global _metric_data_page_size
    _metric_data_page_size = points


def _start_step(age: timedelta, periods: list[int]) -> int:
    """The seconds GetMetricData's StartTime is rounded down to, for a start `age` ago (`rounded_start`)."""
    if age > timedelta(days=63):
        return 3600
    if age >= timedelta(days=15):
        return 300
    return min((p for p in periods if p in _HIGH_RESOLUTION_PERIODS), default=60)


def rounded_start(start: datetime, now: datetime, periods: list[int]) -> datetime:
    """GetMetricData's StartTime as CloudWatch rounds it down (botocore cloudwatch service-2.json,
    GetMetricDataInput.StartTime): to the whole minute when less than 15 days ago, to the 5-minute
    clock interval between 15 and 63 days ago, to the hour beyond; with a Period of 5, 10, 20 or
    30 seconds, to that many seconds (the smallest such Period of the request's queries: AWS does
    not say which of several wins). EndTime is not rounded (the same model says nothing of it)."""
    step = _start_step(now - start, periods)
    epoch = datetime(1970, 1, 1, tzinfo=start.tzinfo)
    seconds = int((start - epoch).total_seconds())
    return epoch + timedelta(seconds=seconds - seconds % step)


def metric_data_page(
    results: list[dict[str, Any]], max_points: int, token: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of GetMetricData's results: `max_points` datapoints ("the maximum number of data
    points the request should return before paginating", GetMetricDataInput.MaxDatapoints) from
    the position `token` names, counted across the results in query order. Every query's result
    is on every page (its values on this page, maybe none); one with datapoints on a later page
    is `PartialData` (the StatusCode's documented value for "more data available"). The token is
    ours: a position. Raises ValueError for a token that is not one."""
    offset = 0 if token is None else int(token)
    if offset < 0:
        raise ValueError(token)
    page, seen = [], 0
    for result in results:
        count = len(result["values"])
        low, high = max(offset - seen, 0), max(min(offset + max_points - seen, count), 0)
        later = seen + count > offset + max_points
        shown = {**result, "values": result["values"][low:high], "timestamps": result["timestamps"][low:high]}
        page.append({**shown, "status_code": "PartialData" if later else result.get("status_code", "Complete")})
        seen += count
    return page, (str(offset + max_points) if seen > offset + max_points else None)


@_once
def cloudwatch_metric_stat_queries() -> None:
    """GetMetricData selects a metric as AWS does, answers percentiles (`p99`, `p95.45`) too, rounds
    its StartTime and pages by MaxDatapoints."""
    from moto.cloudwatch.exceptions import ValidationError
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.responses import ActionResult

    original = CloudWatchBackend.get_metric_data

    def get_metric_data(
        self: Any,
        queries: list[dict[str, Any]],
        start_time: datetime,
        end_time: datetime,
        scan_by: str = "TimestampAscending",
    ) -> list[dict[str, Any]]:
        ours: list[tuple[dict[str, Any], Callable[[list[Any]], float | None]]] = []
        for query in queries:
            if "MetricStat" not in query:
                continue
            stat = str(query["MetricStat"].get("Stat"))
            if stat in _SIMPLE_STATS:
                ours.append((query, _simple_statistic(stat)))
                continue
            percentile = percentile_of(stat)
            if percentile is None or percentile > 100:
                raise ValidationError(UNSUPPORTED_STAT_MESSAGE.format(stat=stat))
            ours.append((query, _percentile_statistic(percentile)))
        # moto validates the times and answers metric math from its own MetricStat results: it
        # is given the simple statistics only when an expression may read them (its scan costs
        # queries x periods x datapoints; ours below, one pass over the window).
        math = any("MetricStat" not in q for q in queries)
        for_moto = [
            q for q in queries if "MetricStat" not in q or (math and q["MetricStat"].get("Stat") in _SIMPLE_STATS)
        ]
        periods = [int(q["MetricStat"]["Period"]) for q in queries if "MetricStat" in q]
        now = moto_now() if start_time.tzinfo is not None else _naive(moto_now())  # moto may parse naive UTC
        start_time = rounded_start(start_time.replace(microsecond=0), now, periods)
        answered = original(self, for_moto, start_time, end_time, scan_by)
        start, end = start_time, end_time.replace(microsecond=0)
        window = [md for md in self.get_all_metrics() if start <= md.timestamp < end] if ours else []
        by_id = {result["id"]: result for result in answered}
        for query, compute in ours:
            if query.get("ReturnData", True):
                by_id[query["Id"]] = _metric_stat_result(window, query, compute, start, end, scan_by)
        return [by_id[q["Id"]] for q in queries if q["Id"] in by_id]

    def respond(self: CloudWatchResponse) -> ActionResult:
        answer: ActionResult = original_respond(self)
        results = answer.result["MetricDataResults"]  # type: ignore[index]
        params = self._get_params()
        asked = params.get("MaxDatapoints")
        size = int(asked) if asked is not None else (_metric_data_page_size or 100_800)
        try:
            page, token = metric_data_page(results, size, params.get("NextToken"))
        except ValueError:
            raise _invalid_next_token(str(params.get("NextToken"))) from None  # the operation's documented error
        return ActionResult({"MetricDataResults": page, **({"NextToken": token} if token else {})})

    original_respond = CloudWatchResponse.get_metric_data
    CloudWatchBackend.get_metric_data = get_metric_data  # type: ignore[method-assign]
    CloudWatchResponse.get_metric_data = respond  # type: ignore[method-assign]


@_once
def endpoint_configs_keep_every_field() -> None:
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    original_create = SageMakerResponse.create_endpoint_config
    original_describe = SageMakerModelBackend.describe_endpoint_config

    def create(self: SageMakerResponse) -> Any:
        answer = original_create(self)
        request = json.loads(self.body or "{}")
        config = self.sagemaker_backend.endpoint_configs[request["EndpointConfigName"]]
        config.model_medic_request = {k: v for k, v in request.items() if k != "Tags"}  # type: ignore[attr-defined]
        return answer

    def describe(self: Any, endpoint_config_name: str) -> dict[str, Any]:
        answer: dict[str, Any] = original_describe(self, endpoint_config_name)
        request = getattr(self.endpoint_configs[endpoint_config_name], "model_medic_request", {})
        return {**answer, **copy.deepcopy(request)}

    SageMakerResponse.create_endpoint_config = create  # type: ignore[method-assign]
    SageMakerModelBackend.describe_endpoint_config = describe  # type: ignore[method-assign]


@_once
def cloudformation_keys_keep_a_json_policy() -> None:
    from moto.kms.models import KmsBackend

    original = KmsBackend.create_key

    def create_key(self: Any, policy: Any, *args: Any, **kwargs: Any) -> Any:
        return original(self, json.dumps(policy) if isinstance(policy, dict) else policy, *args, **kwargs)

    KmsBackend.create_key = create_key  # type: ignore[method-assign]


@_once
def cloudformation_alarms() -> None:
    from moto.cloudformation import parsing
    from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat, cloudwatch_backends
    from moto.core.common_models import CloudFormationModel

    modelled = {model.cloudformation_type() for model in CloudFormationModel.__subclasses__()}
    assert "AWS::CloudWatch::Alarm" not in modelled, "moto's CloudFormation makes alarms now: drop this extension"

    def query(item: dict[str, Any]) -> MetricDataQuery:
        stat = item.get("MetricStat")
        metric_stat = None
        if stat:
            metric = stat["Metric"]
            dimensions = [Dimension(d["Name"], d["Value"]) for d in metric.get("Dimensions", [])]
            metric_stat = MetricStat(
                Metric(metric["MetricName"], metric["Namespace"], dimensions),
                stat["Period"],
                stat["Stat"],
                stat.get("Unit"),
            )
        # What moto's PutMetricAlarm response gives it: absent fields as None (left out of DescribeAlarms).
        label, period, returned = (cast(str, item.get(key)) for key in ("Label", "Period", "ReturnData"))
        return MetricDataQuery(item["Id"], label, period, returned, item.get("Expression"), metric_stat)

    class StackAlarm(CloudFormationModel):
        """An alarm of a stack: created and deleted with it."""

        def __init__(self, name: str) -> None:
            self.physical_resource_id = name

        @staticmethod
        def cloudformation_name_type() -> str:
            return "AlarmName"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::CloudWatch::Alarm"

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> "StackAlarm":
            p = cloudformation_json["Properties"]
            cloudwatch_backends[account_id][region_name].put_metric_alarm(
                name=resource_name,
                namespace=p.get("Namespace"),
                metric_name=p.get("MetricName"),
                metric_data_queries=[query(q) for q in p["Metrics"]] if p.get("Metrics") else None,
                comparison_operator=p["ComparisonOperator"],
                evaluation_periods=int(p["EvaluationPeriods"]),
                datapoints_to_alarm=int(p["DatapointsToAlarm"]) if "DatapointsToAlarm" in p else None,
                period=p.get("Period"),
                threshold=float(p["Threshold"]),
                statistic=p.get("Statistic"),
                description=p.get("AlarmDescription", ""),
                dimensions=p.get("Dimensions", []),
                alarm_actions=p.get("AlarmActions", []),
                ok_actions=p.get("OKActions", []),
                insufficient_data_actions=p.get("InsufficientDataActions", []),
                unit=p.get("Unit"),
                treat_missing_data=p.get("TreatMissingData"),
            )
            return cls(resource_name)

        def delete(self, account_id: str, region_name: str) -> None:
            cloudwatch_backends[account_id][region_name].delete_alarms([self.physical_resource_id])

    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()


def install_all() -> None:
    """Every extension of this module (tests and the local cloud call this once)."""
    serialise_dynamodb_requests()
    dynamodb_transaction_tokens_as_in_aws()
    alarm_state_times_follow_the_clock()
    alarm_transition_times_as_in_aws()
    alarm_history_as_in_aws()  # after the transition times: an item's Timestamp is the transition's
    composite_alarms_as_in_aws()
    cloudwatch_metric_stat_queries()
    cloudwatch_list_metrics_once_each()
    cloudwatch_dimensions_as_in_aws()
    dynamodb_between_bounds_in_order()
    sagemaker_names_taken_once()
    endpoint_arns_as_in_aws()
    versioned_model_package_names()
    model_packages_as_in_aws()
    eventbridge_rules_as_in_aws()
    endpoint_variants_keep_what_was_not_changed()
    serverless_concurrency_updates()  # inside the timing below: it sees the config asked
    endpoint_kinds_as_in_aws()
    # Order matters: each wraps the one before, so the one-capacity check runs before
    # moto changes anything and the timing sees the variants moto produced.
    endpoint_updates_take_time()
    one_variant_capacity_per_call()
    sagemaker_update_endpoint()
    scalable_target_range_moves_capacity()
    local_cloud_routes()
    pipeline_executions_run_until_finished()
    endpoint_configs_keep_every_field()
    sagemaker_search_endpoints_as_in_aws()
    sqs_event_source_mappings_polled_here()
    inference_components_as_in_aws()
    sns_one_subscription_per_endpoint()
    sns_subjects_as_documented()
    cloudformation_alarms()


# --- SageMaker Search on endpoints, and endpoint configs of inference components --------------


@_once
def sagemaker_search_endpoints_as_in_aws() -> None:
    """Search(Resource="Endpoint") pages its results and shows endpoints as DescribeEndpoint does."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    original = SageMakerModelBackend.search
    original_response = SageMakerResponse.search

    def search(self: Any, resource: Any = None, search_expression: Any = None) -> Any:
        if resource == "Endpoint":
            for endpoint in list(self.endpoints.values()):
                _settle(endpoint)  # as DescribeEndpoint and ListEndpoints show it
        return original(self, resource, search_expression)

    def respond(self: SageMakerResponse) -> Any:
        if self._get_param("Resource") != "Endpoint":
            return original_response(self)
        found = self.sagemaker_backend.search(
            resource="Endpoint", search_expression=self._get_param("SearchExpression")
        )["Results"]
        size = int(self._get_param("MaxResults") or len(found) or 1)
        start = int(self._get_param("NextToken") or 0)
        page: dict[str, Any] = {"Results": found[start : start + size]}
        if start + size < len(found):
            page["NextToken"] = str(start + size)
        return ActionResult(page)

    SageMakerModelBackend.search = search  # type: ignore[method-assign]
    SageMakerResponse.search = respond  # type: ignore[method-assign]
    cloudformation_keys_keep_a_json_policy()


# --- SNS subscriptions ----------------------------------------------------------------------

SUBSCRIPTION_EXISTS_MESSAGE = (
    "Invalid parameter: Attributes Reason: Subscription already exists with different attributes"
)


def _same_attribute(name: str, held: Any, asked: Any) -> bool:
    """Whether a subscription's attribute already has the value a Subscribe asks for."""
    if held is None:
        return False
    if name == "FilterPolicy":
        return bool(json.loads(held) == json.loads(asked)) if held and asked else held == asked
    return str(held).lower() == str(asked).lower()


@_once
def sns_one_subscription_per_endpoint() -> None:
    """A Subscribe of a topic, protocol and endpoint already subscribed with other attributes is refused."""
    from moto.sns.exceptions import SNSInvalidParameter
    from moto.sns.responses import SNSResponse

    original = SNSResponse.subscribe

    def subscribe(self: SNSResponse) -> Any:
        existing = self.backend._find_subscription(
            self._get_param("TopicArn"), self._get_param("Endpoint"), self._get_param("Protocol")
        )
        asked = self._get_attributes() or {}
        if existing is not None and not all(
            _same_attribute(name, existing.attributes.get(name), value) for name, value in asked.items()
        ):
            raise SNSInvalidParameter(SUBSCRIPTION_EXISTS_MESSAGE)
        return original(self)

    setattr(SNSResponse, "subscribe", subscribe)  # noqa: B010 - patched as the others, without a type: ignore


# --- SNS Publish: the subject's constraint ---------------------------------------------------

# Publish's `Subject`: "Subjects must be UTF-8 text with no line breaks or control characters, and
# less than 100 characters long" (botocore sns service-2.json, PublishInput). The message is AWS's
# answer to a subject too long, as quoted from real SNS (docs/aws-behaviours.md, "S3, SNS, KMS and
# IAM details").
SUBJECT_REFUSED_MESSAGE = "Invalid parameter: Subject"
SUBJECT_MAX = 99


def subject_problem(subject: str | None) -> str | None:
    """Why SNS's documented constraint refuses a Publish's subject, or None (no subject, or a fitting one)."""
    if subject is None:
        return None
    if len(subject) > SUBJECT_MAX:
        return f"{len(subject)} characters, not less than 100"
    if any(unicodedata.category(c) == "Cc" for c in subject):
        return "a line break or control character"
    return None


@_once
def sns_subjects_as_documented() -> None:
    """A Publish (or a PublishBatch entry) whose subject SNS's documented constraint refuses is refused."""
    from moto.sns.exceptions import InvalidParameterValue
    from moto.sns.models import SNSBackend

    original = SNSBackend.publish

    def publish(self: SNSBackend, message: str, arn: str | None, *args: Any, **kwargs: Any) -> str:
        subject = kwargs.get("subject", args[1] if len(args) > 1 else None)
        if subject_problem(subject) is not None:
            raise InvalidParameterValue(SUBJECT_REFUSED_MESSAGE)
        return original(self, message, arn, *args, **kwargs)

    SNSBackend.publish = publish  # type: ignore[method-assign]


# --- SQS event source mappings -------------------------------------------------------------


@_once
def sqs_event_source_mappings_polled_here() -> None:
    """An SQS mapping is checked as AWS checks it and left to the local cloud's poller (above)."""
    from moto.awslambda.exceptions import InvalidParameterValueException
    from moto.awslambda.models import LambdaBackend
    from moto.sqs.models import sqs_backends

    original = LambdaBackend.create_event_source_mapping

    def create(self: Any, spec: dict[str, Any]) -> Any:
        queues = [
            q
            for q in sqs_backends[self.account_id][self.region_name].queues.values()
            if q.queue_arn == spec.get("EventSourceArn")
        ]
        if queues:
            function = self._lambdas.get_function_by_name_or_arn_with_qualifier(spec.get("FunctionName", ""))
            visibility = int(queues[0].attributes["VisibilityTimeout"])
            if int(function.timeout) > visibility:
                raise InvalidParameterValueException(
                    f"Queue visibility timeout: {visibility} seconds is less than "
                    f"Function timeout: {function.timeout} seconds"
                )
        mapping = original(self, spec)
        for queue in queues:
            queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
        return mapping

    LambdaBackend.create_event_source_mapping = create  # type: ignore[method-assign]


# --- SageMaker inference components -----------------------------------------------------------


@dataclass
class _Rolling:
    """A rolling update under way: batch after batch, each provisioned then baked while the alarms are watched."""

    start: datetime
    old: dict[str, Any]  # the specification(s) serving, as DescribeInferenceComponent shows them
    new: dict[str, Any]
    batches: int
    provision: float  # seconds a batch takes to come up (the update duration), before its bake
    wait: float  # WaitIntervalInSeconds
    alarms: list[str]
    checked: datetime  # alarms looked at up to here
    rollback_until: datetime | None = None  # an alarm fired: the old copies are back at this time


@dataclass
class _Component:
    """An inference component as DescribeInferenceComponent shows it, with its pending copy count."""

    answer: dict[str, Any]
    tags: list[dict[str, str]]
    until: datetime | None = None  # when the copy count asked is reached (Creating / Updating)
    rolling: _Rolling | None = None


def _components(backend: Any) -> dict[str, _Component]:
    found: dict[str, _Component] | None = getattr(backend, "model_medic_components", None)
    if found is None:
        found = {}
        backend.model_medic_components = found
    return found


def _settle_component(component: _Component) -> None:
    """The copy count asked is reached once its time has come: InService, Current = Desired."""
    if component.rolling is not None:
        _roll_on(component, component.rolling)
        return
    if component.until is None or moto_now() < component.until:
        return
    runtime = component.answer["RuntimeConfig"]
    runtime["CurrentCopyCount"] = runtime["DesiredCopyCount"]
    component.answer["InferenceComponentStatus"] = "InService"
    component.answer["LastModifiedTime"] = _naive(component.until).isoformat()
    component.until = None


def _component(backend: Any, name: str) -> _Component:
    from moto.sagemaker.exceptions import ValidationError

    found = _components(backend).get(name)
    if found is None:
        raise ValidationError(message=f"Could not find inference component {name}.")
    _settle_component(found)
    return found


def _change_copies(component: _Component, copies: int) -> None:
    """Start moving the component to `copies`: `Updating` for the update duration, or at once."""
    from moto.sagemaker.exceptions import ValidationError

    if component.answer["InferenceComponentStatus"] != "InService":
        raise ValidationError(
            message=f"Inference component {component.answer['InferenceComponentName']} is not InService."
        )
    component.answer["RuntimeConfig"]["DesiredCopyCount"] = copies
    component.answer["InferenceComponentStatus"] = "Updating"
    component.until = moto_now() + timedelta(seconds=_update_seconds)
    _settle_component(component)


def _as_summary(spec: dict[str, Any]) -> dict[str, Any]:
    """A specification as DescribeInferenceComponent shows it: the container's image as DeployedImage."""
    shown = copy.deepcopy(spec)
    container = shown.get("Container")
    if isinstance(container, dict) and "Image" in container:
        container["DeployedImage"] = {"SpecifiedImage": container.pop("Image")}
    return shown


def _specifications(backend: Any, request: dict[str, Any]) -> dict[str, Any] | None:
    """The component's specification(s) a Create/UpdateInferenceComponent request asks for, as
    DescribeInferenceComponent shows them: `Specification`, or `Specifications` - "populated when
    the inference component was created with multiple specifications. When this parameter is
    populated, the singular Specification parameter is not returned" (service-2.json,
    DescribeInferenceComponentOutput). None when the request names neither. Both at once are
    refused ("You can use either this parameter or the singular Specification parameter, but not
    both", CreateInferenceComponentInput/UpdateInferenceComponentInput; our wording), as is a
    ModelName that does not exist."""
    from moto.sagemaker.exceptions import ValidationError

    one, several = request.get("Specification"), request.get("Specifications")
    if one is not None and several is not None:
        raise ValidationError(message="Specify either Specification or Specifications, not both.")
    for spec in several or ([one] if one is not None else []):
        model = spec.get("ModelName")
        if model is not None and model not in backend._models:
            raise ValidationError(message=f"Could not find model {model}.")
    if several is not None:
        return {"Specifications": [_as_summary(s) for s in several]}
    return None if one is None else {"Specification": _as_summary(dict(one))}


def _update_component(backend: Any, component: _Component, request: dict[str, Any]) -> None:
    """UpdateInferenceComponent: a new specification and/or copy count, `Updating` for the update
    duration. Only InferenceComponentName is required (UpdateInferenceComponentInput): without a
    specification the component keeps its own."""
    shown = _specifications(backend, request)
    asked = (request.get("RuntimeConfig") or {}).get("CopyCount")  # 0 is a count (a component scaled to zero)
    copies = int(component.answer["RuntimeConfig"]["DesiredCopyCount"] if asked is None else asked)
    deployment = request.get("DeploymentConfig")
    if deployment is not None:
        _start_rolling(component, copies, shown, deployment)
        return
    _change_copies(component, copies)  # refused unless InService; Updating for the update duration
    if shown is not None:
        component.answer.pop("Specification", None)
        component.answer.pop("Specifications", None)
        component.answer.update(shown)


def _rolling_problem(copies: int, deployment: dict[str, Any]) -> str | None:
    """Why AWS refuses this DeploymentConfig (API reference, InferenceComponentRollingUpdatePolicy,
    InferenceComponentCapacitySize, AutoRollbackConfig), or None."""
    policy = deployment.get("RollingUpdatePolicy") or {}
    size = policy.get("MaximumBatchSize") or {}
    wait, timeout = policy.get("WaitIntervalInSeconds"), policy.get("MaximumExecutionTimeoutInSeconds")
    if size.get("Type") not in ("COPY_COUNT", "CAPACITY_PERCENT") or int(size.get("Value") or 0) < 1:
        return "MaximumBatchSize needs Type COPY_COUNT or CAPACITY_PERCENT and a Value of at least 1."
    share = int(size["Value"]) / copies * 100 if size["Type"] == "COPY_COUNT" else int(size["Value"])
    if not 5 <= share <= 50:
        return "MaximumBatchSize must be between 5% and 50% of the copy count of the inference component."
    if wait is None or not 0 <= int(wait) <= 3600:
        return "WaitIntervalInSeconds must be between 0 and 3600."
    if timeout is not None and not 600 <= int(timeout) <= 28800:
        return "MaximumExecutionTimeoutInSeconds must be between 600 and 28800."
    alarms = (deployment.get("AutoRollbackConfiguration") or {}).get("Alarms")
    if alarms is not None and not 1 <= len(alarms) <= 10:
        return "AutoRollbackConfiguration.Alarms takes 1 to 10 alarms."
    return None


def _start_rolling(
    component: _Component, copies: int, shown: dict[str, Any] | None, deployment: dict[str, Any]
) -> None:
    """UpdateInferenceComponent with a DeploymentConfig: Updating, the old specification shown and
    serving until every batch has baked without an alarm (`_roll_on`)."""
    from moto.sagemaker.exceptions import ValidationError

    if component.answer["InferenceComponentStatus"] != "InService":
        raise ValidationError(
            message=f"Inference component {component.answer['InferenceComponentName']} is not InService."
        )
    problem = _rolling_problem(copies, deployment)
    if problem is not None:
        raise ValidationError(message=problem)
    policy = deployment["RollingUpdatePolicy"]
    size = policy["MaximumBatchSize"]
    batch = int(size["Value"]) if size["Type"] == "COPY_COUNT" else max(1, copies * int(size["Value"]) // 100)
    old: dict[str, Any] = {k: v for k, v in component.answer.items() if k in ("Specification", "Specifications")}
    new = copy.deepcopy(old) if shown is None else shown  # no specification asked: the copies roll on their own
    now = moto_now()
    alarms = [a["AlarmName"] for a in (deployment.get("AutoRollbackConfiguration") or {}).get("Alarms", [])]
    component.rolling = _Rolling(
        now, old, new, -(-copies // batch), _update_seconds, float(policy["WaitIntervalInSeconds"]), alarms, now
    )
    component.answer["RuntimeConfig"]["DesiredCopyCount"] = copies
    component.answer["InferenceComponentStatus"] = "Updating"
    component.answer["LastDeploymentConfig"] = copy.deepcopy(deployment)
    component.answer["LastModifiedTime"] = _naive(now).isoformat()


def _roll_on(component: _Component, rolling: _Rolling) -> None:
    """The rolling update up to now: each batch's bake watched minute by minute (`_alarm_fires`);
    an alarm in ALARM puts the old copies back (they are in service after one update duration),
    otherwise the new specification serves once the last batch has baked."""
    now = moto_now()
    if rolling.rollback_until is None:
        step = timedelta(seconds=rolling.provision + rolling.wait)
        for index in range(rolling.batches):
            bake = rolling.start + step * index + timedelta(seconds=rolling.provision)
            end = min(now, bake + timedelta(seconds=rolling.wait))
            at = max(bake, rolling.checked)
            while at <= end:
                if _alarm_fires(component, rolling.alarms, at):
                    rolling.rollback_until = at + timedelta(seconds=rolling.provision)
                    break
                at += timedelta(seconds=60)
            if rolling.rollback_until is not None or now < bake + timedelta(seconds=rolling.wait):
                rolling.checked = max(rolling.checked, min(now, end))
                break
    done = rolling.rollback_until or rolling.start + timedelta(
        seconds=(rolling.provision + rolling.wait) * rolling.batches
    )
    if now < done:
        return
    shown = rolling.old if rolling.rollback_until is not None else rolling.new
    for key in ("Specification", "Specifications"):
        component.answer.pop(key, None)
    component.answer.update(copy.deepcopy(shown))
    runtime = component.answer["RuntimeConfig"]
    runtime["CurrentCopyCount"] = runtime["DesiredCopyCount"]
    component.answer["InferenceComponentStatus"] = "InService"
    component.answer["LastModifiedTime"] = _naive(done).isoformat()
    component.rolling = None


def _alarm_fires(component: _Component, names: list[str], at: datetime) -> bool:
    """Whether one of the alarms is in ALARM at `at`: set so (SetAlarmState, the local cloud's
    evaluation), or as CloudWatch would judge it then from its metric's datapoints in moto
    (localcloud/cloudwatch.py `evaluate`)."""
    from moto.cloudwatch.models import cloudwatch_backends

    from localcloud.cloudwatch import evaluate

    _, _, _, region, account, _ = component.answer["InferenceComponentArn"].split(":", 5)
    backend = cloudwatch_backends[account][region]
    for name in names:
        alarm = backend.alarms.get(name)
        if alarm is None:
            continue
        if alarm.state_value == "ALARM":
            return True
        if not alarm.metric_name:
            continue  # a metric-math alarm: judged by whoever sets its state
        period = int(alarm.period)
        end = datetime.fromtimestamp(int(at.timestamp()) // period * period, tz=UTC)
        values = [
            _period_value(backend, alarm, end - timedelta(seconds=period * (n + 1)), period)
            for n in reversed(range(int(alarm.evaluation_periods)))
        ]
        definition = {
            "AlarmName": name,
            "EvaluationPeriods": alarm.evaluation_periods,
            "DatapointsToAlarm": alarm.datapoints_to_alarm,
            "ComparisonOperator": alarm.comparison_operator,
            "Threshold": alarm.threshold,
            "TreatMissingData": alarm.treat_missing_data,
            "StateValue": alarm.state_value,
        }
        if evaluate(definition, values) == "ALARM":
            return True
    return False


def _period_value(backend: Any, alarm: Any, start: datetime, period: int) -> float | None:
    """The alarm's statistic over its metric's datapoints in [start, start + period), or None."""
    wanted = {(d.name, d.value) for d in alarm.dimensions}
    values: list[float] = []
    for datum in backend.metric_data:
        stamp = datum.timestamp if datum.timestamp.tzinfo else datum.timestamp.replace(tzinfo=UTC)
        if datum.namespace != alarm.namespace or datum.name != alarm.metric_name or not hasattr(datum, "value"):
            continue
        if {(d.name, d.value) for d in datum.dimensions} == wanted and start <= stamp < start + timedelta(
            seconds=period
        ):
            values.append(float(datum.value))
    if not values:
        return None
    statistics: dict[str, Callable[[list[float]], float]] = {"Maximum": max, "Minimum": min, "Sum": sum}
    if alarm.statistic == "SampleCount":
        return float(len(values))
    compute = statistics.get(str(alarm.statistic))
    return float(compute(values)) if compute is not None else sum(values) / len(values)


def _create_component(backend: Any, request: dict[str, Any]) -> _Component:
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.utils import arn_formatter

    name = request["InferenceComponentName"]
    endpoint = backend.endpoints.get(request["EndpointName"])
    if endpoint is None:
        raise ValidationError(message=f"Could not find endpoint {request['EndpointName']}.")
    _settle(endpoint)
    variant = request.get("VariantName")
    if variant is not None and variant not in {v["VariantName"] for v in endpoint.production_variants}:
        raise ValidationError(message=f"Could not find variant {variant} in endpoint {endpoint.endpoint_name}.")
    if name in _components(backend):
        raise ValidationError(message=f"Cannot create already existing inference component {name}.")
    copies = int((request.get("RuntimeConfig") or {}).get("CopyCount", 1))
    shown = _specifications(backend, request) or {"Specification": {}}
    now = _naive(moto_now()).isoformat()
    answer = {
        "InferenceComponentName": name,
        "InferenceComponentArn": arn_formatter("inference-component", name, backend.account_id, backend.region_name),
        "EndpointName": endpoint.endpoint_name,
        "EndpointArn": endpoint.arn,
        "VariantName": variant,
        **shown,
        "RuntimeConfig": {"DesiredCopyCount": copies, "CurrentCopyCount": 0},
        "InferenceComponentStatus": "Creating",
        "CreationTime": now,
        "LastModifiedTime": now,
    }
    component = _Component({k: v for k, v in answer.items() if v is not None}, list(request.get("Tags") or []))
    component.until = moto_now() + timedelta(seconds=_update_seconds)
    _settle_component(component)
    _components(backend)[name] = component
    return component


def _fit_component(account: str, region: str, resource_id: str, low: int | None, high: int | None) -> None:
    """A component's copy count moved into its target's new range, as a variant's count is."""
    from moto.sagemaker.models import sagemaker_backends

    found = _components(sagemaker_backends[account][region]).get(resource_id.removeprefix("inference-component/"))
    if found is None:
        return
    _settle_component(found)
    if found.answer["InferenceComponentStatus"] != "InService":
        return  # "not active": the range is recorded, the copies do not change
    current = int(found.answer["RuntimeConfig"]["DesiredCopyCount"])
    wanted = max(current, int(low)) if low is not None else current
    wanted = min(wanted, int(high)) if high is not None else wanted
    if wanted != current:
        _change_copies(found, wanted)


@_once
def inference_components_as_in_aws() -> None:
    """Create/Describe/List/Update/UpdateRuntimeConfig/Delete of inference components, their tags, and
    scalable targets on their copy count; see the module docstring."""
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
    from moto.core.common_types import TYPE_RESPONSE
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    def create(self: SageMakerResponse) -> TYPE_RESPONSE:
        found = _create_component(self.sagemaker_backend, json.loads(self.body or "{}"))
        return 200, {}, json.dumps({"InferenceComponentArn": found.answer["InferenceComponentArn"]})

    def describe(self: SageMakerResponse) -> TYPE_RESPONSE:
        found = _component(self.sagemaker_backend, self._get_param("InferenceComponentName"))
        return 200, {}, json.dumps(found.answer)

    def update_runtime(self: SageMakerResponse) -> TYPE_RESPONSE:
        found = _component(self.sagemaker_backend, self._get_param("InferenceComponentName"))
        _change_copies(found, int(self._get_param("DesiredRuntimeConfig")["CopyCount"]))
        return 200, {}, json.dumps({"InferenceComponentArn": found.answer["InferenceComponentArn"]})

    def update(self: SageMakerResponse) -> TYPE_RESPONSE:
        found = _component(self.sagemaker_backend, self._get_param("InferenceComponentName"))
        _update_component(self.sagemaker_backend, found, json.loads(self.body or "{}"))
        return 200, {}, json.dumps({"InferenceComponentArn": found.answer["InferenceComponentArn"]})

    def list_components(self: SageMakerResponse) -> TYPE_RESPONSE:
        endpoint = self._get_param("EndpointNameEquals")
        rows = []
        for name in sorted(_components(self.sagemaker_backend)):
            found = _component(self.sagemaker_backend, name)
            if endpoint is None or found.answer["EndpointName"] == endpoint:
                keys: tuple[str, ...] = ("InferenceComponentName", "InferenceComponentArn", "EndpointName")
                keys += ("EndpointArn", "VariantName", "InferenceComponentStatus", "CreationTime", "LastModifiedTime")
                rows.append({k: found.answer[k] for k in keys if k in found.answer})
        return 200, {}, json.dumps({"InferenceComponents": rows})

    def delete(self: SageMakerResponse) -> TYPE_RESPONSE:
        name = self._get_param("InferenceComponentName")
        _component(self.sagemaker_backend, name)
        del _components(self.sagemaker_backend)[name]
        return 200, {}, "{}"

    original_resource = SageMakerModelBackend._get_resource_from_arn

    def resource(self: Any, arn: str) -> Any:
        kind, _, name = arn.split(":")[-1].partition("/")
        if kind == "inference-component":
            return _component(self, name)  # has `tags`, as moto's resources do
        return original_resource(self, arn)

    original_validate = ApplicationAutoScalingResponse._validate_params

    def validate(self: ApplicationAutoScalingResponse) -> None:
        if self._get_param("ScalableDimension") == COMPONENT_COPY_DIMENSION:
            return  # AWS's enum has it (botocore application-autoscaling ScalableDimension); moto's lacks it
        original_validate(self)

    # Set by name: moto's classes declare none of these operations.
    added: dict[str, Callable[..., Any]] = {
        "create_inference_component": create,
        "describe_inference_component": describe,
        "update_inference_component_runtime_config": update_runtime,
        "update_inference_component": update,
        "list_inference_components": list_components,
        "delete_inference_component": delete,
    }
    for operation, method in added.items():
        setattr(SageMakerResponse, operation, method)
    from moto.applicationautoscaling import models as autoscaling_models

    original_valid = autoscaling_models._target_params_are_valid

    def valid(namespace: str, r_id: str, dimension: str) -> bool:
        if namespace == "sagemaker" and dimension == COMPONENT_COPY_DIMENSION:
            return r_id.startswith("inference-component/")  # AWS's resource id for this dimension
        return original_valid(namespace, r_id, dimension)

    autoscaling_models._target_params_are_valid = valid
    original_register = autoscaling_models.ApplicationAutoscalingBackend.register_scalable_target

    def register(self: Any, namespace: str, r_id: str, dimension: str, *args: Any, **kwargs: Any) -> Any:
        target = original_register(self, namespace, r_id, dimension, *args, **kwargs)
        if _range_moves_capacity and namespace == "sagemaker" and dimension == COMPONENT_COPY_DIMENSION:
            _fit_component(self.account_id, self.region_name, r_id, target.min_capacity, target.max_capacity)
        return target

    replaced: list[tuple[type, str, Callable[..., Any]]] = [
        (SageMakerModelBackend, "_get_resource_from_arn", resource),
        (ApplicationAutoScalingResponse, "_validate_params", validate),
        (autoscaling_models.ApplicationAutoscalingBackend, "register_scalable_target", register),
    ]
    for owner, attribute, method in replaced:
        setattr(owner, attribute, method)
