"""Real-shaped AWS records for the refresh tests, written by hand from AWS's documented
formats (Price List ``aws_v1`` product JSON; ``DescribeSpotPriceHistory`` entries)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

# One GetProducts PriceList entry as AWS documents it (Price List API, "aws_v1"): the
# product's attributes, an OnDemand term with one hourly price dimension, and a Reserved term
# (ignored by the refresh). p3.2xlarge in us-east-1 at 3.06 USD per hour.
P3_2XLARGE_US_EAST_1 = """\
{
  "product": {
    "productFamily": "Compute Instance",
    "attributes": {
      "enhancedNetworkingSupported": "Yes",
      "intelTurboAvailable": "Yes",
      "memory": "61 GiB",
      "dedicatedEbsThroughput": "1750 Mbps",
      "vcpu": "8",
      "gpu": "1",
      "gpuMemory": "16 GiB",
      "capacitystatus": "Used",
      "locationType": "AWS Region",
      "storage": "EBS only",
      "instanceFamily": "GPU instance",
      "operatingSystem": "Linux",
      "regionCode": "us-east-1",
      "physicalProcessor": "Intel Xeon E5-2686 v4 (Broadwell)",
      "clockSpeed": "2.3 GHz",
      "ecu": "Variable",
      "networkPerformance": "Up to 10 Gigabit",
      "servicename": "Amazon Elastic Compute Cloud",
      "instancesku": "TBUYVZ6ZYQTSUJBS",
      "vpcnetworkingsupport": "true",
      "instanceType": "p3.2xlarge",
      "tenancy": "Shared",
      "usagetype": "BoxUsage:p3.2xlarge",
      "normalizationSizeFactor": "16",
      "processorFeatures": "Intel AVX; Intel AVX2; Intel Turbo",
      "servicecode": "AmazonEC2",
      "licenseModel": "No License required",
      "currentGeneration": "Yes",
      "preInstalledSw": "NA",
      "location": "US East (N. Virginia)",
      "processorArchitecture": "64-bit",
      "marketoption": "OnDemand",
      "operation": "RunInstances",
      "availabilityzone": "NA"
    },
    "sku": "YJ2E4ZQSNEUMW3AE"
  },
  "serviceCode": "AmazonEC2",
  "terms": {
    "OnDemand": {
      "YJ2E4ZQSNEUMW3AE.JRTCKXETXF": {
        "priceDimensions": {
          "YJ2E4ZQSNEUMW3AE.JRTCKXETXF.6YS6EN2CT7": {
            "unit": "Hrs",
            "endRange": "Inf",
            "description": "$3.06 per On Demand Linux p3.2xlarge Instance Hour",
            "appliesTo": [],
            "rateCode": "YJ2E4ZQSNEUMW3AE.JRTCKXETXF.6YS6EN2CT7",
            "beginRange": "0",
            "pricePerUnit": {"USD": "3.0600000000"}
          }
        },
        "sku": "YJ2E4ZQSNEUMW3AE",
        "effectiveDate": "2025-06-01T00:00:00Z",
        "offerTermCode": "JRTCKXETXF",
        "termAttributes": {}
      }
    },
    "Reserved": {
      "YJ2E4ZQSNEUMW3AE.4NA7Y494T4": {
        "priceDimensions": {
          "YJ2E4ZQSNEUMW3AE.4NA7Y494T4.6YS6EN2CT7": {
            "unit": "Hrs",
            "endRange": "Inf",
            "description": "Linux/UNIX (Amazon VPC), p3.2xlarge reserved instance applied",
            "appliesTo": [],
            "rateCode": "YJ2E4ZQSNEUMW3AE.4NA7Y494T4.6YS6EN2CT7",
            "beginRange": "0",
            "pricePerUnit": {"USD": "1.9530000000"}
          }
        },
        "sku": "YJ2E4ZQSNEUMW3AE",
        "effectiveDate": "2025-06-01T00:00:00Z",
        "offerTermCode": "4NA7Y494T4",
        "termAttributes": {"LeaseContractLength": "1yr", "OfferingClass": "standard",
                           "PurchaseOption": "No Upfront"}
      }
    }
  },
  "version": "20251120000000",
  "publicationDate": "2025-11-20T00:00:00Z"
}
"""


def price_list_item(instance_type: str, region: str, usd_per_hour: float | str) -> str:
    """A PriceList entry of the same shape as :data:`P3_2XLARGE_US_EAST_1` for another type,
    region and price (the Reserved term dropped)."""
    item: dict[str, Any] = json.loads(P3_2XLARGE_US_EAST_1)
    item["product"]["attributes"].update(instanceType=instance_type, regionCode=region,
                                         usagetype=f"BoxUsage:{instance_type}")
    del item["terms"]["Reserved"]
    (term,) = item["terms"]["OnDemand"].values()
    (dimension,) = term["priceDimensions"].values()
    dimension["pricePerUnit"]["USD"] = f"{float(usd_per_hour):.10f}"
    dimension["description"] = f"${usd_per_hour} per On Demand Linux {instance_type} Instance Hour"
    return json.dumps(item)


def spot_record(instance_type: str, zone: str, usd_per_hour: str,
                timestamp: datetime) -> dict[str, Any]:
    """One ``SpotPriceHistory`` entry as DescribeSpotPriceHistory returns it."""
    return {"AvailabilityZone": zone, "InstanceType": instance_type,
            "ProductDescription": "Linux/UNIX", "SpotPrice": usd_per_hour,
            "Timestamp": timestamp}


class Ec2Split:
    """An EC2 client whose spot history comes from a Stubber (moto's is a placeholder) and
    everything else (instance types, availability zones) from moto."""

    def __init__(self, moto_client: Any, stubbed_client: Any) -> None:
        self.moto, self.stubbed = moto_client, stubbed_client

    def get_paginator(self, name: str) -> Any:
        client = self.stubbed if name == "describe_spot_price_history" else self.moto
        return client.get_paginator(name)

    def describe_availability_zones(self, **kwargs: Any) -> Any:
        return self.moto.describe_availability_zones(**kwargs)
