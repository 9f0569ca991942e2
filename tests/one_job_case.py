"""The one-job case ``simulate`` and ``risk`` are tried on through the CLI: one 10 GPU-hour
job on p3.2xlarge in us-east-1 on 2027-01-01, at 1 USD/h spot and 3 USD/h on demand, spot
never interrupted, and no setup or minimum time (``risk`` adds setup).

Its own module, so the test folders that use it (``cli/``, ``risk/``) each run alone."""

WORKLOAD = """\
name: sim-test
horizon: {start: 2027-01-01, days: 1}
cloud:
  regions: [us-east-1]
  instance_types: [p3.2xlarge]
  setup_minutes: 0
  min_instance_minutes: 0
  spot_availability_default: 1.0   # planned as if spot were always there: a 10-hour slot
  price_overrides:
    - {instance_type: p3.2xlarge, region: us-east-1, market: on_demand, usd_per_hour: 3.0}
    - {instance_type: p3.2xlarge, region: us-east-1, market: spot, usd_per_hour: 1.0}
  spot_interruptions_per_hour:
    - {instance_type: p3.2xlarge, region: us-east-1, rate: 0.0}
jobs:
  - {name: train, gpus: 1, gpu_hours: 10, interruptible: true, checkpoint_minutes: 60}
"""
