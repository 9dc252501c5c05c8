"""The event types of the order and inventory streams, by name: the one
list the read side (and the fulfilment process) follows. The read side
works from these names and the upcast event data, never from the order
domain's classes; a test checks the names against the domain's catalog."""

ORDER_AGGREGATE = "Order"
# The customer's contact and shipping address (personal fields, encrypted;
# erased once the customer is forgotten).
SHIPPING_EVENTS = frozenset({"ShippingDetailsGiven", "ShippingAddressChanged"})
ORDER_EVENTS = (
    frozenset({"OrderPlaced", "ItemAdded", "ItemRemoved", "OrderConfirmed", "OrderShipped", "OrderCancelled"})
    | SHIPPING_EVENTS
)
CUSTOMER_AGGREGATE = "Customer"
CUSTOMER_EVENTS = frozenset({"CustomerForgotten"})
INVENTORY_EVENTS = frozenset(
    {"StockReceived", "StockReserved", "ReservationRefused", "StockReleased", "StockShipped"}
)
# Inventory events that answer (or follow up) an order's reservation.
STOCK_EVENTS = INVENTORY_EVENTS - {"StockReceived"}
