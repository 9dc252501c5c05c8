"""The yardstick of ``bench http``: the same two commands as a plain CRUD
Django view that INSERTs or UPDATEs one row, with the same authentication,
permission, parsing and validation as the real endpoints. Served only by the
server the benchmark starts (``bench.settings``), never by the app."""

import json
import uuid
from uuid import UUID

from django.db import connection, transaction
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.api import OrderCollectionApi
from orders.http import CanManageOrders
from orders.serializers import LineSerializer

TABLE = "bench_crud_orders"
CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id uuid PRIMARY KEY,
    customer_id text NOT NULL,
    lines jsonb NOT NULL,
    total_cents bigint NOT NULL,
    version integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
)"""


class CrudPlace(APIView):
    permission_classes = [CanManageOrders]

    def post(self, request: Request) -> Response:
        data = OrderCollectionApi.PlaceOrderInput(data=request.data)
        data.is_valid(raise_exception=True)
        items = data.validated_data["items"]
        order_id = uuid.uuid4()
        total = sum(line["quantity"] * line["price_cents"] for line in items)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {TABLE} (id, customer_id, lines, total_cents, version)"
                " VALUES (%s, %s, %s, %s, 1)",
                [order_id, data.validated_data["customer_id"], json.dumps(items), total],
            )
        return Response({"order_id": str(order_id), "version": 1}, status=201)


class CrudAddItem(APIView):
    permission_classes = [CanManageOrders]

    def post(self, request: Request, order_id: UUID) -> Response:
        data = LineSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        line = data.validated_data
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {TABLE} SET lines = lines || %s::jsonb, total_cents = total_cents + %s,"
                " version = version + 1, updated_at = now() WHERE id = %s RETURNING version",
                [json.dumps([line]), line["quantity"] * line["price_cents"], order_id],
            )
            row = cursor.fetchone()
        if row is None:
            return Response({"title": "No such order"}, status=404)
        return Response({"order_id": str(order_id), "version": row[0]})
