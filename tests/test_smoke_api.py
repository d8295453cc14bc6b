from tests.conftest import Gateway


async def test_a_signed_refund_succeeds(gateway: Gateway) -> None:
    answer = await gateway.refund()
    assert answer["retCode"] == "SUCCESS"
    assert answer["resCode"] == "SUCCESS"
    assert answer["status"] == 2
