"""Sets up and reads back AWS resources in a moto_server for the AWS receiver
tests (sinks/tests/aws.rs). Usage: moto_helper.py ENDPOINT COMMAND ARGS...
Prints JSON on stdout."""

import json
import sys
import time

import boto3

endpoint, command, args = sys.argv[1], sys.argv[2], sys.argv[3:]


def client(service):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def queue(name):
    attributes = {}
    if name.endswith(".fifo"):
        attributes = {"FifoQueue": "true"}
    return client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


def receive(url, want, wait):
    sqs = client("sqs")
    got = []
    deadline = time.time() + wait
    while len(got) < want and time.time() < deadline:
        out = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
        )
        for m in out.get("Messages", []):
            got.append({"body": m["Body"], "attributes": m.get("Attributes", {})})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


if command == "sqs-create":
    print(json.dumps(queue(args[0])))
elif command == "sqs-receive":
    url = client("sqs").get_queue_url(QueueName=args[0])["QueueUrl"]
    print(json.dumps(receive(url, int(args[1]), float(args[2]))))
elif command == "kinesis-create":
    k = client("kinesis")
    k.create_stream(StreamName=args[0], ShardCount=int(args[1]))
    k.get_waiter("stream_exists").wait(StreamName=args[0], WaiterConfig={"Delay": 0.2})
    print(json.dumps(args[0]))
elif command == "kinesis-read":
    k = client("kinesis")
    records = []
    for shard in k.list_shards(StreamName=args[0])["Shards"]:
        it = k.get_shard_iterator(
            StreamName=args[0], ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while it:
            out = k.get_records(ShardIterator=it, Limit=10000)
            for r in out["Records"]:
                records.append({"data": r["Data"].decode(), "key": r["PartitionKey"]})
            if not out["Records"]:
                break
            it = out.get("NextShardIterator")
    print(json.dumps(records))
elif command == "firehose-create":
    name, bucket = args
    client("s3").create_bucket(Bucket=bucket)
    client("firehose").create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": "arn:aws:s3:::" + bucket,
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
        },
    )
    print(json.dumps(name))
elif command == "s3-read":
    s3 = client("s3")
    data = ""
    for o in s3.list_objects_v2(Bucket=args[0]).get("Contents", []):
        data += s3.get_object(Bucket=args[0], Key=o["Key"])["Body"].read().decode()
    print(json.dumps(data))
elif command == "sns-create":
    topic, q = args
    attributes = {"FifoTopic": "true"} if topic.endswith(".fifo") else {}
    sns = client("sns")
    arn = sns.create_topic(Name=topic, Attributes=attributes)["TopicArn"]
    url = queue(q)
    qarn = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=qarn,
        Attributes={"RawMessageDelivery": "true"},
    )
    print(json.dumps(arn))
elif command == "events-create":
    bus, source, q = args
    events = client("events")
    if bus != "default":
        events.create_event_bus(Name=bus)
    url = queue(q)
    qarn = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(
        Name="to-" + q, EventBusName=bus, EventPattern=json.dumps({"source": [source]})
    )
    events.put_targets(
        Rule="to-" + q, EventBusName=bus, Targets=[{"Id": "q", "Arn": qarn}]
    )
    print(json.dumps(qarn))
else:
    sys.exit("unknown command " + command)
